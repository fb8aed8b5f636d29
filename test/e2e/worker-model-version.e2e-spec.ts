import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EditObject } from '@step1x/contracts';
import { RedisKeys } from '@step1x/edit-store';
import { STEP1X_MANIFEST_FILE } from '@step1x/model-format';
import { modelsVersionOf } from '@step1x/worker';
import { getFreePort } from '../support/free-port';
import { tinyModelsDir } from '../support/tiny-models';
import {
  multipartOf,
  pngOf,
  spawnService,
  startServiceStack,
  waitForEdit,
  WORKER_MAIN,
  type ServiceProcess,
  type ServiceStack,
} from './service-harness';

/** The worker images' HEALTHCHECK command (docker/worker-healthcheck.cjs) against this health port: its exit code. */
function imageHealthcheck(healthUrl: string): number | null {
  const script = join(__dirname, '..', '..', '..', 'docker', 'worker-healthcheck.cjs');
  const port = new URL(healthUrl).port;
  return spawnSync(process.execPath, [script], { env: { WORKER_HEALTH_PORT: port }, timeout: 10_000 }).status;
}

/** The tiny models again under another version: the same files, a manifest with one more field. */
function otherModelsVersion(modelsDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'step1x-models-v2-'));
  for (const file of readdirSync(modelsDir)) {
    if (file !== STEP1X_MANIFEST_FILE) symlinkSync(join(modelsDir, file), join(dir, file));
  }
  const manifest = JSON.parse(readFileSync(join(modelsDir, STEP1X_MANIFEST_FILE), 'utf8')) as object;
  writeFileSync(join(dir, STEP1X_MANIFEST_FILE), JSON.stringify({ ...manifest, rollout: 'v2' }, null, 2));
  return dir;
}

/**
 * A rolling upgrade and the worker's health port, through the production worker entry point
 * (apps/worker/dist/main.js): the API stamps MODEL_VERSION on each job; a worker with other models leaves the job
 * queued (record untouched, no attempt spent) until a worker with those models takes it; /readyz says ready only
 * with the models warm and Redis answering.
 */
describe('worker: model version and readiness (e2e)', () => {
  let stack: ServiceStack;
  let v2Dir: string;
  let oldWorker: ServiceProcess;
  let healthUrl: string;
  const probes: { path: string; status: number; at: number }[] = [];

  before(async () => {
    v2Dir = otherModelsVersion(await tinyModelsDir());
    const v1 = modelsVersionOf(await tinyModelsDir());
    const v2 = modelsVersionOf(v2Dir);
    assert.notEqual(v1, v2);
    stack = await startServiceStack({ MODEL_VERSION: v2 });
    const port = await getFreePort();
    healthUrl = `http://127.0.0.1:${port}`;
    oldWorker = spawnService({ ...stack.env, WORKER_HEALTH_PORT: String(port) }, [WORKER_MAIN]);
    // Probe while the models load: alive at once, ready only once jobs are taken.
    const probing = (async () => {
      for (let i = 0; i < 400; i++) {
        for (const path of ['/healthz', '/readyz']) {
          const status = await fetch(`${healthUrl}${path}`).then(
            (r) => r.status,
            () => 0,
          );
          probes.push({ path, status, at: Date.now() });
        }
        if (probes.at(-1)?.status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await oldWorker.waitForOutput(/taking jobs/);
    await probing;
  });
  after(async () => {
    // Spawned here, not through the stack, so the stack does not stop it.
    await oldWorker?.process.stop(10_000);
    await stack?.stop();
    if (v2Dir) rmSync(v2Dir, { recursive: true, force: true });
  });

  it('answers /healthz while the models load and /readyz only once they are warm', async () => {
    const alive = probes.filter((p) => p.path === '/healthz' && p.status === 200);
    const notReady = probes.filter((p) => p.path === '/readyz' && p.status === 503);
    assert.ok(alive.length > 0 && notReady.length > 0, JSON.stringify(probes.slice(0, 6)));
    assert.ok(alive[0].at <= notReady[notReady.length - 1].at, '/healthz was 200 while /readyz was 503');
    const ready = await fetch(`${healthUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', models: 'warm', redis: 'ok' });
    assert.equal(imageHealthcheck(healthUrl), 0, 'the image HEALTHCHECK passes');
  });

  it('a worker with other models leaves the job queued; a worker with the right ones runs it', async () => {
    const png = await pngOf(80, 60);
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'make it blue', steps: '2' }, { bytes: png, type: 'image/png' }),
    });
    assert.equal(response.status, 202);
    const edit = (await response.json()) as EditObject;
    await oldWorker.waitForOutput(new RegExp(`${edit.id}: queued for models .* left in the queue`), 20_000);
    const job = await stack.redisClient.hgetall(`${new RedisKeys(stack.keyPrefix).bullPrefix()}:edit:${edit.id}`);
    assert.equal(JSON.parse(job.data).modelVersion, modelsVersionOf(v2Dir));
    assert.equal(job.failedReason ?? '', '');
    const still = (await (await stack.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.equal(still.status, 'queued');
    assert.equal(still.started_at, null);
    const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
    assert.match(metrics, /step1x_worker_jobs_deferred_total\{reason="model_version"\} [1-9]/);

    await stack.startWorker({ MODELS_DIR: v2Dir });
    const { edit: done } = await waitForEdit(stack, edit.id, (e) => e.status === 'succeeded', 60_000);
    assert.equal(done.status, 'succeeded');
  });

  it('says not ready when Redis stops answering, and stays alive', async () => {
    await stack.redis.stop();
    const ready = await fetch(`${healthUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { status: string }).status, 'not_ready');
    assert.equal((await fetch(`${healthUrl}/healthz`)).status, 200);
    assert.equal(imageHealthcheck(healthUrl), 1, 'the image HEALTHCHECK fails');
  });
});
