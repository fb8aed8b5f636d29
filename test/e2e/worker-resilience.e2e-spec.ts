import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EditObject } from '@step1x/contracts';
import {
  isTerminal,
  multipartOf,
  pngOf,
  redisClientCount,
  spawnService,
  startServiceStack,
  waitForEdit,
  type ServiceProcess,
  type ServiceStack,
} from './service-harness';

/** Workers dying, draining and handing back, against a running API (all real processes). */
describe('worker: crashes and shutdown (e2e)', () => {
  let stack: ServiceStack;
  let png: Buffer;

  before(async () => {
    stack = await startServiceStack();
    png = await pngOf(64, 64);
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = async (steps: number, fields: Record<string, string> = {}) => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      body: multipartOf(
        { instruction: 'turn it green', steps: String(steps), ...fields },
        { bytes: png, type: 'image/png' },
      ),
    });
    assert.equal(response.status, 202);
    return (await response.json()) as EditObject;
  };
  const hookPaths = (path: string, type: string) =>
    stack.receiver.requests.filter((r) => r.path === path && r.text.includes(`"type":"${type}"`));
  const stopGracefully = async (worker: ServiceProcess) => {
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, worker.process.output());
  };

  it('a worker SIGKILLed mid-edit: the next worker takes the stalled edit over and finishes it, once', async () => {
    const doomed = await stack.startWorker();
    const hook = '/hooks/killed';
    const edit = await submit(8, { webhook_url: stack.receiver.urlFor(hook) });
    await waitForEdit(stack, edit.id, (e) => e.status === 'running' && e.progress.step >= 2, 30_000);
    doomed.kill('SIGKILL');
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    const midway = (await (await stack.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.equal(midway.status, 'running', 'nobody has noticed yet');

    const rescuer = await stack.startWorker();
    const { edit: done } = await waitForEdit(stack, edit.id, isTerminal, 60_000);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(done.progress, { step: 8, total: 8 });
    assert.ok(await stack.objectStore.exists(`outputs/acme/${edit.id}.png`));
    await stack.receiver.waitFor(() => hookPaths(hook, 'edit.completed').length >= 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // room for a duplicate to show up
    assert.equal(hookPaths(hook, 'edit.completed').length, 1, 'completed once');
    assert.equal(hookPaths(hook, 'edit.started').length, 1, 'started once: the takeover is not a new start');
    assert.equal(JSON.parse(hookPaths(hook, 'edit.completed')[0].text).data.status, 'succeeded');
    await stopGracefully(rescuer);
  });

  it('an edit whose worker keeps dying fails (BULLMQ_MAX_STALLED_COUNT) instead of staying running', async () => {
    const doomed = await stack.startWorker();
    const hook = '/hooks/poison';
    const edit = await submit(8, { webhook_url: stack.receiver.urlFor(hook), webhook_events: 'completed' });
    await waitForEdit(stack, edit.id, (e) => e.status === 'running' && e.progress.step >= 1, 30_000);
    doomed.kill('SIGKILL');
    await doomed.exited;
    // This worker allows no stall at all, so the first stall is already one too many.
    const strict = await stack.startWorker({ BULLMQ_MAX_STALLED_COUNT: '0' });
    const { edit: failed } = await waitForEdit(stack, edit.id, isTerminal, 30_000);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'internal_error');
    assert.match(failed.error?.message ?? '', /interrupted too many times/);
    const [completed] = await stack.receiver
      .waitFor(() => hookPaths(hook, 'edit.completed').length >= 1, 10_000)
      .then(() => hookPaths(hook, 'edit.completed'));
    assert.equal(JSON.parse(completed.text).data.status, 'failed');
    await stopGracefully(strict);
  });

  it('refuses to boot on a missing or incomplete models folder: exit 1 naming it, no job taken', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'step1x-no-models-'));
    try {
      for (const modelsDir of ['/nonexistent/step1x-models', empty]) {
        const worker = spawnService({ ...stack.env, ROLE: 'worker', MODELS_DIR: modelsDir });
        const exit = await worker.exited;
        assert.equal(exit.code, 1, worker.process.output());
        assert.match(worker.process.output(), new RegExp(`models folder ${modelsDir}`));
        assert.doesNotMatch(worker.process.output(), /taking jobs/);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('SIGTERM drains: the running edit finishes, then the worker closes its Redis clients and exits 0', async () => {
    const baseline = await redisClientCount(stack.redisClient);
    const worker = await stack.startWorker({ SHUTDOWN_GRACE_MS: '30000' });
    assert.ok((await redisClientCount(stack.redisClient)) > baseline, 'the worker holds connections while up');
    const edit = await submit(5);
    await waitForEdit(stack, edit.id, (e) => e.status === 'running' && e.progress.step >= 1, 30_000);
    await stopGracefully(worker);
    const after = (await (await stack.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.equal(after.status, 'succeeded', 'finished before exiting');
    const deadline = Date.now() + 3000;
    while ((await redisClientCount(stack.redisClient)) > baseline && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await redisClientCount(stack.redisClient), baseline, 'every worker connection closed');
  });

  it('SIGTERM past the grace period hands the edit back to the queue; the next worker runs it', async () => {
    const impatient = await stack.startWorker({ SHUTDOWN_GRACE_MS: '300' });
    const edit = await submit(10);
    await waitForEdit(stack, edit.id, (e) => e.status === 'running' && e.progress.step >= 1, 30_000);
    await stopGracefully(impatient);
    const handedBack = (await (await stack.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.equal(handedBack.status, 'queued');
    assert.equal(handedBack.queue_position, 1);
    assert.deepEqual(handedBack.progress, { step: 0, total: 10 });

    const next = await stack.startWorker();
    const { edit: done } = await waitForEdit(stack, edit.id, isTerminal, 60_000);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.attempts, 1, 'a hand-back is not a failed attempt');
    await stopGracefully(next);
  });

  it('keeps serving after all of it', async () => {
    assert.equal((await fetch(`${stack.apiUrl}/healthz`)).status, 200);
    const worker = await stack.startWorker();
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      headers: { prefer: 'wait=30' },
      body: multipartOf({ instruction: 'one more', steps: '1' }, { bytes: png, type: 'image/png' }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as EditObject).status, 'succeeded');
    await stopGracefully(worker);
  });
});
