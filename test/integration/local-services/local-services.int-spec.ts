import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answersPing, startRedisServer, startS3rver } from '@step1x/local-services';

const HOST = '127.0.0.1';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function becomesTrue(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

interface ParentReport {
  redisPort: number;
  s3Port: number;
}

/** A node process that starts both services through this library, reports their ports and then idles. */
function spawnParent() {
  const script = `
    const { startRedisServer, startS3rver } = require(${JSON.stringify(require.resolve('@step1x/local-services'))});
    Promise.all([startRedisServer(), startS3rver()]).then(([redis, s3]) => {
      console.log(JSON.stringify({ redisPort: redis.port, s3Port: s3.port }));
      setInterval(() => undefined, 60_000);
    }, (error) => { console.error(error); process.exit(1); });`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const report = new Promise<ParentReport>((resolve, reject) => {
    let stdout = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) resolve(JSON.parse(stdout.split('\n')[0]) as ParentReport);
    });
    parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before reporting:\n${stderr}`)));
  });
  return { parent, report };
}

describe('startRedisServer', () => {
  it('runs redis-server itself under the reported pid, answers PING and stops completely', async () => {
    const redis = await startRedisServer();
    assert.equal(readFileSync(`/proc/${redis.pid}/comm`, 'utf8').trim(), 'redis-server');
    assert.equal(await answersPing(HOST, redis.port), true);
    assert.ok(existsSync(redis.dir));
    await redis.stop();
    assert.equal(await accepts(redis.port), false);
    assert.equal(existsSync(redis.dir), false);
    await redis.stop(); // idempotent
  });

  it('keeps a working directory it was given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'step1x-local-services-'));
    try {
      const redis = await startRedisServer({ dir });
      assert.equal(redis.dir, dir);
      await redis.stop();
      assert.equal(existsSync(dir), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startS3rver', () => {
  it('stores objects in a directory it was given and keeps it on stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'step1x-local-services-'));
    try {
      const s3 = await startS3rver({ dir, bucket: 'kept' });
      assert.equal(s3.endpoint, `http://${HOST}:${s3.port}`);
      const listing = await fetch(`${s3.endpoint}/kept`);
      assert.equal(listing.status, 200);
      assert.match(await listing.text(), /<Name>kept<\/Name>/);
      await s3.stop();
      assert.equal(await accepts(s3.port), false);
      assert.equal(existsSync(dir), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('services started by a process that is SIGKILLed', () => {
  it('redis-server and s3rver stop answering: no orphan keeps a port', async () => {
    const { parent, report } = spawnParent();
    const { redisPort, s3Port } = await report;
    assert.equal(await answersPing(HOST, redisPort), true);
    assert.equal(await accepts(s3Port), true);

    const parentGone = new Promise((resolve) => parent.once('exit', resolve));
    parent.kill('SIGKILL');
    await parentGone;

    const redisGone = await becomesTrue(async () => !(await accepts(redisPort)), 5000);
    const s3Gone = await becomesTrue(async () => !(await accepts(s3Port)), 5000);
    assert.deepEqual({ redisGone, s3Gone }, { redisGone: true, s3Gone: true });
  });
});
