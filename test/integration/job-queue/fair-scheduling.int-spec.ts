import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { JobName, newEditId, type EditImagePayload } from '@step1x/contracts';
import { RedisKeys } from '@step1x/edit-store';
import { BullmqJobConsumer, BullmqJobQueue, JobRegistry, OnJob, type FairSchedulerOptions } from '@step1x/job-queue';
import { redisForSuite } from '../../support/redis-server';

/** Runs edits like a worker would for the scheduler: marks the record running, holds it a moment, settles it. */
class TimedEditHandler {
  readonly starts: { editId: string; tenantId: string }[] = [];
  readonly intervals: { tenantId: string; from: number; to: number }[] = [];
  constructor(
    private readonly redis: ReturnType<typeof redisForSuite>,
    private readonly keys: RedisKeys,
    private readonly holdMs: number,
  ) {}

  @OnJob({ name: JobName.EditImage })
  async run(payload: EditImagePayload): Promise<void> {
    const from = performance.now();
    this.starts.push({ editId: payload.editId, tenantId: payload.tenantId });
    await this.redis.command.hset(this.keys.edit(payload.editId), 'status', 'running');
    await new Promise((resolve) => setTimeout(resolve, this.holdMs));
    await this.redis.command.hset(this.keys.edit(payload.editId), 'status', 'succeeded');
    this.intervals.push({ tenantId: payload.tenantId, from, to: performance.now() });
  }
}

function untilTrue(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

describe('fair scheduling across tenants (real redis-server, BullMQ workers)', () => {
  const redis = redisForSuite();

  async function setUp(fairness: FairSchedulerOptions, holdMs: number, workers: number) {
    const keys = new RedisKeys(`f${randomUUID().slice(0, 8)}`);
    const queue = new BullmqJobQueue({ connection: redis.command, keys, fairness });
    const handler = new TimedEditHandler(redis, keys, holdMs);
    const consumers = Array.from(
      { length: workers },
      () => new BullmqJobConsumer({ connection: redis.blocking, keys, onEditJob: () => queue.dispatchEdits() }),
    );
    const enqueue = async (tenantId: string, count: number) => {
      const ids = Array.from({ length: count }, () => newEditId());
      const pipeline = redis.command.pipeline();
      for (const id of ids) pipeline.hset(keys.edit(id), 'status', 'queued');
      await pipeline.exec();
      await queue.enqueueEdits(ids.map((editId) => ({ payload: { editId, tenantId }, lane: 'batch' as const })));
      return ids;
    };
    const start = () =>
      Promise.all(consumers.map((c) => c.start(JobRegistry.fromInstances([handler], [JobName.EditImage]))));
    const stop = async () => {
      await Promise.all(consumers.map((c) => c.close(5000)));
      await queue.close();
    };
    return { keys, queue, handler, enqueue, start, stop };
  }

  it("one worker slot: a tenant's 200 queued edits hold back another tenant's new edit by at most 2", async () => {
    const s = await setUp({}, 1, 1);
    await s.enqueue('a', 200);
    const [late] = await s.enqueue('b', 1);
    assert.equal(await s.queue.queuePosition(late, 'batch'), 2, "b's edit is second in the fair order");
    await s.start();
    await untilTrue(() => s.handler.starts.some((start) => start.editId === late), "b's edit to start");
    const aheadOfB = s.handler.starts.findIndex((start) => start.editId === late);
    console.log(`fairness: tenant b's edit started after ${aheadOfB} of tenant a's (200 queued before it)`);
    assert.ok(aheadOfB <= 2, `${aheadOfB} edits of a started first`);
    await s.stop();
  });

  it('weights a:3,b:1 with both backlogged: starts follow 3:1 within ±10 % over 80 starts', async () => {
    const s = await setUp(
      {
        weights: new Map([
          ['a', 3],
          ['b', 1],
        ]),
      },
      1,
      1,
    );
    await s.enqueue('a', 100);
    await s.enqueue('b', 100);
    await s.start();
    await untilTrue(() => s.handler.starts.length >= 80, '80 starts');
    const first80 = s.handler.starts.slice(0, 80);
    const a = first80.filter((start) => start.tenantId === 'a').length;
    console.log(`fairness: weights 3:1 gave ${a}:${80 - a} over 80 starts`);
    assert.ok(Math.abs(a - 60) <= 6, `a got ${a} of 80 starts (60 ± 6 expected)`);
    await s.stop();
  });

  it('TENANT_MAX_RUNNING=1 with 3 workers: never two edits of one tenant running at once', async () => {
    const s = await setUp({ maxRunningPerTenant: 1 }, 30, 3);
    await s.enqueue('a', 15);
    await s.enqueue('b', 15);
    await s.start();
    await untilTrue(() => s.handler.intervals.length === 30, 'all 30 edits to finish');
    for (const tenant of ['a', 'b']) {
      const runs = s.handler.intervals.filter((run) => run.tenantId === tenant).sort((x, y) => x.from - y.from);
      for (let i = 1; i < runs.length; i++) {
        assert.ok(runs[i].from >= runs[i - 1].to, `two edits of ${tenant} overlapped`);
      }
    }
    const both = s.handler.intervals.some((x) =>
      s.handler.intervals.some((y) => x.tenantId !== y.tenantId && x.from < y.to && y.from < x.to),
    );
    assert.ok(both, 'the two tenants still ran side by side (the cap is per tenant)');
    await s.stop();
  });
});
