import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { JobName, newEditId, newWebhookMessageId, type EditImagePayload } from '@step1x/contracts';
import { RedisKeys } from '@step1x/edit-store';
import {
  BullmqJobConsumer,
  BullmqJobQueue,
  JOB_ABORT_CANCELED,
  JobRegistry,
  OnJob,
  RedisCancelBus,
  type JobContext,
} from '@step1x/job-queue';
import { redisForSuite } from '../../support/redis-server';

/** Records the order jobs run in; can block a job until released or canceled. */
class RecordingEditHandler {
  readonly order: string[] = [];
  readonly aborted: string[] = [];
  private readonly waiters = new Map<string, () => void>();
  blockOn: string | null = null;
  started: Promise<void> = Promise.resolve();
  private markStarted: () => void = () => {};

  expectStart(editId: string): void {
    this.blockOn = editId;
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  release(editId: string): void {
    this.waiters.get(editId)?.();
  }

  @OnJob({ name: JobName.EditImage })
  async run(payload: EditImagePayload, context: JobContext): Promise<void> {
    this.order.push(payload.editId);
    if (payload.editId !== this.blockOn) return;
    this.markStarted();
    await new Promise<void>((resolve, reject) => {
      this.waiters.set(payload.editId, resolve);
      context.signal.addEventListener('abort', () => {
        this.aborted.push(`${payload.editId}:${String(context.signal.reason)}`);
        reject(new Error('aborted'));
      });
    });
  }
}

function untilTrue(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = async () => {
      if (await check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    void poll();
  });
}

describe('BullmqJobQueue and BullmqJobConsumer (real redis-server)', () => {
  const redis = redisForSuite();

  const fresh = () => new RedisKeys(`q${randomUUID().slice(0, 8)}`);

  it('keeps lanes apart: positions, depth and removal of a queued edit', async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const batch = [newEditId(), newEditId()];
    const interactive = [newEditId(), newEditId(), newEditId()];
    for (const id of batch) await queue.enqueueEdit({ editId: id, tenantId: 't' }, 'batch');
    for (const id of interactive) await queue.enqueueEdit({ editId: id, tenantId: 't' }, 'interactive');
    assert.deepEqual(await queue.depth(), { interactive: 3, batch: 2, delayed: 0, total: 5 });
    assert.equal(await queue.queuePosition(interactive[0], 'interactive'), 1);
    assert.equal(await queue.queuePosition(interactive[2], 'interactive'), 3);
    assert.equal(await queue.queuePosition(batch[1], 'batch'), 2);
    assert.equal(await queue.queuePosition(newEditId(), 'batch'), null);
    // Same job id again: no second job.
    await queue.enqueueEdit({ editId: interactive[0], tenantId: 't' }, 'interactive');
    assert.equal((await queue.depth()).total, 5);
    assert.equal(await queue.removeQueuedEdit(interactive[1]), 'removed');
    assert.equal(await queue.removeQueuedEdit(interactive[1]), 'absent');
    assert.equal(await queue.queuePosition(interactive[2], 'interactive'), 2);
    assert.equal((await queue.depth()).interactive, 2);
    await queue.close();
  });

  it('runs every interactive edit before any batch edit, one at a time', async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const ids = { b1: newEditId(), b2: newEditId(), i1: newEditId(), i2: newEditId() };
    await queue.enqueueEdit({ editId: ids.b1, tenantId: 't' }, 'batch');
    await queue.enqueueEdit({ editId: ids.b2, tenantId: 't' }, 'batch');
    await queue.enqueueEdit({ editId: ids.i1, tenantId: 't' }, 'interactive');
    await queue.enqueueEdit({ editId: ids.i2, tenantId: 't' }, 'interactive');
    const handler = new RecordingEditHandler();
    const consumer = new BullmqJobConsumer({
      connection: redis.blocking,
      keys,
      onEditJob: () => queue.dispatchEdits(),
    });
    await consumer.start(JobRegistry.fromInstances([handler], [JobName.EditImage]));
    await untilTrue(() => handler.order.length === 4, 'four edits to run');
    assert.deepEqual(handler.order, [ids.i1, ids.i2, ids.b1, ids.b2]);
    assert.deepEqual(await consumer.close(1000), { drained: true });
    await queue.close();
  });

  it('fans a cancel out to the worker that holds the job, and cannot remove a running job', async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const publisherSide = new RedisCancelBus(redis.command, keys);
    const workerSide = new RedisCancelBus(redis.command, keys);
    const handler = new RecordingEditHandler();
    const editId = newEditId();
    handler.expectStart(editId);
    const consumer = new BullmqJobConsumer({
      connection: redis.blocking,
      keys,
      cancelBus: workerSide,
      onEditJob: () => queue.dispatchEdits(),
    });
    await consumer.start(JobRegistry.fromInstances([handler], [JobName.EditImage]));
    await queue.enqueueEdit({ editId, tenantId: 't' }, 'interactive');
    await handler.started;
    assert.equal(await queue.removeQueuedEdit(editId), 'taken');
    assert.equal(await queue.queuePosition(editId, 'interactive'), null);
    await publisherSide.publish({ editId, requestedAt: new Date().toISOString() });
    await untilTrue(() => handler.aborted.length === 1, 'the abort signal');
    assert.deepEqual(handler.aborted, [`${editId}:${JOB_ABORT_CANCELED}`]);
    await consumer.close(1000);
    await workerSide.close();
    await queue.close();
  });

  it('hands a running job back to the queue when the grace period ends', async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const handler = new RecordingEditHandler();
    const editId = newEditId();
    handler.expectStart(editId);
    const consumer = new BullmqJobConsumer({
      connection: redis.blocking,
      keys,
      onEditJob: () => queue.dispatchEdits(),
    });
    await consumer.start(JobRegistry.fromInstances([handler], [JobName.EditImage]));
    await queue.enqueueEdit({ editId, tenantId: 't' }, 'batch');
    await handler.started;
    assert.deepEqual(await consumer.close(200), { drained: false });
    assert.equal(await queue.queuePosition(editId, 'batch'), 1);
    // A new worker takes it again.
    const next = new RecordingEditHandler();
    const second = new BullmqJobConsumer({ connection: redis.blocking, keys, onEditJob: () => queue.dispatchEdits() });
    await second.start(JobRegistry.fromInstances([next], [JobName.EditImage]));
    await untilTrue(() => next.order.includes(editId), 'the handed-back edit to run again');
    await second.close(1000);
    await queue.close();
  });

  it("reports the load an autoscaler reads: queued per lane, running, and each lane head's enqueue time", async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    assert.deepEqual(await queue.load(), {
      interactive: 0,
      batch: 0,
      delayed: 0,
      total: 0,
      running: 0,
      oldestQueuedAt: { interactive: null, batch: null },
    });
    const handler = new RecordingEditHandler();
    const held = newEditId();
    handler.expectStart(held);
    const consumer = new BullmqJobConsumer({
      connection: redis.blocking,
      keys,
      onEditJob: () => queue.dispatchEdits(),
    });
    await consumer.start(JobRegistry.fromInstances([handler], [JobName.EditImage]));
    await queue.enqueueEdit({ editId: held, tenantId: 't' }, 'interactive');
    await handler.started;
    const firstBatchAt = Date.now();
    await queue.enqueueEdit({ editId: newEditId(), tenantId: 't' }, 'batch');
    await new Promise((resolve) => setTimeout(resolve, 30));
    await queue.enqueueEdit({ editId: newEditId(), tenantId: 't' }, 'batch');
    const load = await queue.load();
    assert.equal(load.running, 1);
    assert.equal(load.batch, 2);
    assert.equal(load.interactive, 0);
    assert.equal(load.oldestQueuedAt.interactive, null);
    const batchHead = load.oldestQueuedAt.batch?.getTime() ?? Number.NaN;
    // The head is the first batch edit, not the second one enqueued 30 ms later.
    assert.ok(Math.abs(batchHead - firstBatchAt) < 25, `batch head ${batchHead} vs enqueued ${firstBatchAt}`);
    handler.release(held);
    await untilTrue(() => handler.order.length === 3, 'all three edits to run');
    await consumer.close(1000);
    await queue.close();
  });

  it('queues webhook deliveries with a delay under one job per attempt', async () => {
    const keys = fresh();
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const messageId = newWebhookMessageId();
    const payload = {
      messageId,
      tenantId: 't',
      editId: newEditId(),
      type: 'edit.completed' as const,
      url: 'http://127.0.0.2/hook',
      body: '{}',
      attempt: 1,
    };
    await queue.enqueueWebhook(payload, { delayMs: 60_000 });
    await queue.enqueueWebhook({ ...payload, attempt: 2 }, { delayMs: 60_000 });
    const delayed = await redis.command.zrange(`${keys.bullPrefix()}:webhook:delayed`, 0, -1);
    assert.deepEqual(delayed.sort(), [`${messageId}.1`, `${messageId}.2`]);
    await queue.close();
  });
});
