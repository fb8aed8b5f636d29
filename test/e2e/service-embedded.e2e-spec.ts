import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { EditObject } from '@step1x/contracts';
import { getFreePort } from '../support/free-port';
import { downloadImage, spawnService, type ServiceProcess } from './service-harness';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of `pid` (Linux /proc), to check that shutdown leaves none behind. */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

/** `npm start` as a new user runs it: no configuration at all, only PORT. */
describe('service: npm start with no configuration (e2e)', () => {
  let service: ServiceProcess;
  let port: number;
  let banner: string;

  before(async () => {
    port = await getFreePort();
    // Nothing but PATH, HOME and PORT: no REDIS_URL, no S3, no keys, no models folder.
    service = spawnService({ PORT: String(port) });
    await service.waitForOutput(/Ctrl-C stops everything/, 90_000);
    banner = service.process.output();
  });
  after(async () => {
    await service?.process.stop(10_000);
  });

  it('prints the URL on PORT, a dev API key and curl examples', () => {
    assert.match(banner, new RegExp(`is up at http://127\\.0\\.0\\.1:${port}\\b`));
    assert.match(banner, /dev API key \(tenant "local"\): sk_local_[0-9a-f]{36}/);
    assert.match(banner, /local: redis-server at redis:\/\/127\.0\.0\.1:\d+/);
    assert.match(banner, /local: s3rver at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(banner, /^\s+curl .*Prefer: wait=30.*-F image=@/m);
    assert.match(banner, /models: \S+ \(RANDOM weights: outputs are not meaningful edits\)/);
  });

  it('the printed curl example works as printed: the edit succeeds and the GET example reads it back', async () => {
    const submit = banner.match(/^\s+(curl .*Prefer: wait=30.*)$/m)![1];
    const { stdout } = await run('sh', ['-c', submit], { timeout: 60_000 });
    const edit = JSON.parse(stdout) as EditObject;
    assert.equal(edit.status, 'succeeded', stdout);
    assert.deepEqual([edit.output?.width, edit.output?.height], [edit.input.width, edit.input.height]);
    assert.equal(edit.output?.random_weights, true, 'local mode runs the tiny random models and says so');
    const read = banner.match(/^\s+(curl .*\/v1\/edits\/EDIT_ID.*)$/m)![1].replace('EDIT_ID', edit.id);
    const again = JSON.parse((await run('sh', ['-c', read], { timeout: 10_000 })).stdout) as EditObject;
    assert.equal(again.id, edit.id);
    assert.equal(again.status, 'succeeded');
    const image = await downloadImage(again.output!.url);
    assert.deepEqual([image.width, image.height, image.format], [edit.input.width, edit.input.height, 'png']);
  });

  it('is ready: Redis, S3 and the embedded worker with warm models', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    const body = (await response.json()) as { checks: Record<string, string> };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.checks, { redis: 'ok', s3: 'ok', worker: 'ok' });
  });

  it('SIGTERM stops everything: exit 0, redis-server and s3rver gone, temp dir removed', async () => {
    const children = childrenOf(service.pid);
    assert.equal(children.length, 2, 'redis-server and s3rver');
    const tempDir = banner.match(/\(data in (\/\S+)\/redis\)/)![1];
    assert.ok(existsSync(tempDir));
    service.kill('SIGTERM');
    const exit = await service.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, service.process.output());
    assert.deepEqual(children.filter(alive), [], 'no child left running');
    assert.equal(existsSync(tempDir), false, `${tempDir} removed`);
    assert.match(service.process.output(), /stopped\s*$/);
  });
});
