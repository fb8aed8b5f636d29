// Fair-order dispatch overhead per edit vs plain BullMQ priority, in the same run on the same redis-server
// (docs/ARCHITECTURE.md "Fair scheduling across tenants"). One BullMQ worker (concurrency 1) with a handler that
// only settles the record drains N edits of 4 tenants each way; the difference per edit is what the fair path costs.
// Usage: npm run bench -- fair-dispatch   (FAIR_BENCH_EDITS, default 2000)
import { Queue } from 'bullmq';
import { JobName, QueueName, newEditId, type EditImagePayload } from '@step1x/contracts';
import { closeRedisClient, createRedisClient, RedisKeys } from '@step1x/edit-store';
import { BullmqJobConsumer, BullmqJobQueue, JobRegistry, LANE_PRIORITY, OnJob } from '@step1x/job-queue';
import { startRedisServer } from '@step1x/local-services';

const EDITS = Number(process.env.FAIR_BENCH_EDITS ?? 2000);
const TENANTS = ['t1', 't2', 't3', 't4'];

async function main(): Promise<void> {
  const server = await startRedisServer();
  const command = createRedisClient(server.url);
  const blocking = createRedisClient(server.url, 'blocking');
  try {
    const results: Record<string, number> = {};
    for (const mode of ['plain', 'fair', 'plain', 'fair'] as const) {
      const keys = new RedisKeys(`b${mode}${Math.random().toString(36).slice(2, 8)}`);
      const queue = new BullmqJobQueue({ connection: command, keys });
      const done = { count: 0, resolve: () => undefined as void };
      const finished = new Promise<void>((resolve) => (done.resolve = resolve));
      class SettleHandler {
        @OnJob({ name: JobName.EditImage })
        async run(payload: EditImagePayload): Promise<void> {
          await command.hset(keys.edit(payload.editId), 'status', 'succeeded');
          if (++done.count === EDITS) done.resolve();
        }
      }
      const consumer = new BullmqJobConsumer({
        connection: blocking,
        keys,
        ...(mode === 'fair' ? { onEditJob: () => queue.dispatchEdits() } : {}),
      });
      const ids = Array.from({ length: EDITS }, () => newEditId());
      const pipeline = command.pipeline();
      for (const id of ids) pipeline.hset(keys.edit(id), 'status', 'queued');
      await pipeline.exec();
      const plain = new Queue(QueueName.Edit, { connection: command, prefix: keys.bullPrefix() });
      await consumer.start(JobRegistry.fromInstances([new SettleHandler()], [JobName.EditImage]));
      const started = performance.now();
      for (let i = 0; i < EDITS; i++) {
        const payload = { editId: ids[i], tenantId: TENANTS[i % TENANTS.length] };
        if (mode === 'plain') {
          await plain.add(JobName.EditImage, payload, { jobId: ids[i], priority: LANE_PRIORITY.batch });
        } else {
          await queue.enqueueEdit(payload, 'batch');
        }
      }
      await finished;
      const ms = performance.now() - started;
      results[mode] = Math.min(results[mode] ?? Infinity, ms);
      console.log(
        `${mode}: ${EDITS} edits submitted and drained in ${ms.toFixed(0)} ms (${((ms * 1000) / EDITS).toFixed(0)} µs/edit)`,
      );
      await consumer.close(5000);
      await plain.close();
      await queue.close();
    }
    const overheadUs = ((results.fair - results.plain) * 1000) / EDITS;
    console.log(
      `fair-order dispatch overhead: ${overheadUs.toFixed(0)} µs per edit (best of 2 each, ${EDITS} edits, 4 tenants, 1 worker slot)`,
    );
  } finally {
    await closeRedisClient(command);
    await closeRedisClient(blocking);
    await server.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
