import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { JobName, NonRetryableJobError, type EditImagePayload, type EditRecord } from '@step1x/contracts';
import { RedisEditRepository, RedisKeys } from '@step1x/edit-store';
import { BullmqJobConsumer, BullmqJobQueue, EditReconciler, JobRegistry, OnJob } from '@step1x/job-queue';
import { makeRecord } from '../../support/edit-records';
import { redisForSuite } from '../../support/redis-server';

/** Fails every edit job for good, like a handler that refuses its input. */
class RefusingEditHandler {
  readonly seen: string[] = [];
  @OnJob({ name: JobName.EditImage })
  async run(payload: EditImagePayload): Promise<void> {
    this.seen.push(payload.editId);
    throw new NonRetryableJobError('invalid_image', 'refused');
  }
}

describe('EditReconciler: cancel atomicity and orphans after a crash (real redis-server)', () => {
  const redis = redisForSuite();

  /** A fresh key prefix per test: the record store and queue of one "deployment". */
  function deployment() {
    const keys = new RedisKeys(`r${randomUUID().slice(0, 8)}`);
    const repo = new RedisEditRepository(redis.command, keys, { retentionDays: 1 });
    const queue = new BullmqJobQueue({ connection: redis.command, keys });
    const settled: EditRecord[] = [];
    const reconciler = new EditReconciler(repo, queue, {
      graceMs: 10_000,
      onSettled: async (record) => void settled.push(record),
    });
    const accept = async (overrides: Partial<EditRecord> = {}, ageMs = 60_000, queueIt = true) => {
      const record = makeRecord('acme', Date.now() - ageMs, overrides);
      await repo.create(record);
      if (queueIt) await queue.enqueueEdit({ editId: record.id, tenantId: 'acme' }, 'interactive');
      return record;
    };
    return { keys, repo, queue, reconciler, settled, accept };
  }

  it('a queued cancel is one compare-and-set: the record is canceled and leaves the active index at once', async () => {
    const d = deployment();
    const record = await d.accept();
    const canceled = await d.repo.cancelQueued(record.id, new Date());
    assert.ok(canceled.applied);
    assert.equal(canceled.record.status, 'canceled');
    assert.deepEqual(await d.repo.activeEditIds(new Date(), 10), []);
    // Only a queued edit cancels this way: a running one goes through cancel_requested.
    const running = await d.accept();
    await d.repo.markRunning(running.id, 1, new Date());
    assert.equal((await d.repo.cancelQueued(running.id, new Date())).applied, false);
    await d.queue.close();
  });

  it('a crash between marking the cancel and removing the job: the job is removed at worker start', async () => {
    const d = deployment();
    const record = await d.accept();
    // Step 1 of the cancel, then the API process dies before step 2 (the job removal).
    assert.ok((await d.repo.cancelQueued(record.id, new Date())).applied);
    assert.equal(await d.queue.editJobState(record.id), 'queued');
    assert.deepEqual(await d.reconciler.reconcile(), { removedJobs: 1, requeued: 0, canceled: 0, failed: 0 });
    assert.equal(await d.queue.editJobState(record.id), 'absent');
    assert.equal((await d.repo.get(record.id))?.status, 'canceled');
    assert.equal((await d.queue.depth()).total, 0);
    // Nothing left: a second run (another worker starting) changes nothing.
    assert.deepEqual(await d.reconciler.reconcile(), { removedJobs: 0, requeued: 0, canceled: 0, failed: 0 });
    await d.queue.close();
  });

  it('queues again an accepted edit whose job was never added, and a running edit whose job is gone', async () => {
    const d = deployment();
    const neverQueued = await d.accept({}, 60_000, false);
    const running = await d.accept({ input: { ...makeRecord('x', 0).input, priority: 'batch', steps: 5 } });
    await d.repo.markRunning(running.id, 1, new Date());
    await d.repo.updateProgress(running.id, { step: 3, total: 5 });
    await d.queue.removeQueuedEdit(running.id); // lost with its worker, e.g. a Redis restart without AOF
    const fresh = await d.accept({}, 0, false); // an acceptance still in flight: inside the grace period
    assert.deepEqual(await d.reconciler.reconcile(), { removedJobs: 0, requeued: 2, canceled: 0, failed: 0 });
    assert.equal(await d.queue.editJobState(neverQueued.id), 'queued');
    assert.equal(await d.queue.editJobState(running.id), 'queued');
    assert.equal(await d.queue.queuePosition(running.id, 'batch'), 1, 'back in its own lane');
    const requeued = await d.repo.get(running.id);
    assert.equal(requeued?.status, 'queued');
    assert.deepEqual(requeued?.progress, { step: 0, total: 5 });
    assert.equal(await d.queue.editJobState(fresh.id), 'absent', 'young records are left alone');
    assert.deepEqual(d.settled, []);
    await d.queue.close();
  });

  it('cancels an edit whose cancel was requested and whose job is gone, and tells onSettled', async () => {
    const d = deployment();
    const record = await d.accept({}, 60_000, false);
    await d.repo.markRunning(record.id, 1, new Date());
    await d.repo.requestCancel(record.id);
    assert.deepEqual(await d.reconciler.reconcile(), { removedJobs: 0, requeued: 0, canceled: 1, failed: 0 });
    assert.equal((await d.repo.get(record.id))?.status, 'canceled');
    assert.deepEqual(
      d.settled.map((r) => [r.id, r.status]),
      [[record.id, 'canceled']],
    );
    await d.queue.close();
  });

  it('fails an open edit whose job finished without settling it', async () => {
    const d = deployment();
    const record = await d.accept();
    const handler = new RefusingEditHandler();
    const consumer = new BullmqJobConsumer({ connection: redis.blocking, keys: d.keys });
    await consumer.start(JobRegistry.fromInstances([handler], [JobName.EditImage]));
    const deadline = Date.now() + 10_000;
    while ((await d.queue.editJobState(record.id)) !== 'failed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await consumer.close(1000);
    assert.equal(await d.queue.editJobState(record.id), 'failed');
    assert.deepEqual(await d.reconciler.reconcile(), { removedJobs: 0, requeued: 0, canceled: 0, failed: 1 });
    const failed = await d.repo.get(record.id);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.error?.code, 'internal_error');
    await d.queue.close();
  });

  it('lets several workers reconcile at once without doing anything twice', async () => {
    const d = deployment();
    const orphans = await Promise.all([1, 2, 3].map(() => d.accept({}, 60_000, false)));
    const canceled = await d.accept();
    await d.repo.cancelQueued(canceled.id, new Date());
    const others = [1, 2, 3].map(
      () => new EditReconciler(d.repo, d.queue, { graceMs: 10_000, onSettled: async (r) => void d.settled.push(r) }),
    );
    await Promise.all([d.reconciler, ...others].map((r) => r.reconcile()));
    assert.equal(await d.queue.editJobState(canceled.id), 'absent');
    assert.equal((await d.repo.get(canceled.id))?.status, 'canceled');
    const depth = await d.queue.depth();
    assert.equal(depth.total, orphans.length, 'one job per orphan, however many workers requeued it');
    for (const orphan of orphans) assert.equal(await d.queue.editJobState(orphan.id), 'queued');
    await d.queue.close();
  });
});
