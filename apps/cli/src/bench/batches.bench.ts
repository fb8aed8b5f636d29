/**
 * Batch acceptance benchmark (`npm run bench -- batches`): the API as its own `step1x start` process (ROLE=api)
 * over a local redis-server and s3rver; POST /v1/batches with 1,000 `image_key` items, one warm-up then 5 timed
 * requests, p50 printed (issue 9: "a batch of 1,000 image_key items is accepted in well under a second"). No
 * worker runs, so the number is acceptance alone: validation, 1,000 upload-grant reads, one MULTI for the batch and
 * its 1,000 records, one BullMQ `addBulk`. Exits non-zero when the p50 is 1 s or more.
 *
 * Knobs: BENCH_BATCH_ITEMS (default 1000), BENCH_BATCH_RUNS (timed runs, default 5).
 */
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { startRedisServer, startS3rver, s3rverEnv } from '@step1x/local-services';
import { RedisKeys } from '@step1x/edit-store';
import { BullmqJobQueue } from '@step1x/job-queue';
import { percentile, startService } from './bench-service';

const ITEMS = Number(process.env.BENCH_BATCH_ITEMS ?? 1000);
const RUNS = Number(process.env.BENCH_BATCH_RUNS ?? 5);
const TARGET_P50_MS = 1000;
const API_KEY = 'sk_bench_batches_0123456789';

async function main(): Promise<void> {
  const redisServer = await startRedisServer();
  const s3 = await startS3rver();
  const redis = new Redis(redisServer.url);
  const api = await startService(
    {
      ROLE: 'api',
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisServer.url,
      REDIS_KEY_PREFIX: 'benchb',
      ...s3rverEnv(s3),
      API_KEYS: `bench:${API_KEY}`,
      QUEUE_MAX_DEPTH: '10000000',
      BATCH_MAX_ITEMS: String(Math.max(ITEMS, 1000)),
    },
    /is up at (http:\/\/\S+)/,
  );
  const base = api.url!.origin;
  let failed = false;
  try {
    const auth = { authorization: `Bearer ${API_KEY}` };
    const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .png()
      .toBuffer();
    const ticket = (await (
      await fetch(`${base}/v1/uploads`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ content_type: 'image/png', size: png.length }),
      })
    ).json()) as { image_key: string; upload_url: string; headers: Record<string, string> };
    await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: png });
    const body = JSON.stringify({
      items: Array.from({ length: ITEMS }, (_, i) => ({
        image_key: ticket.image_key,
        instruction: `make item ${i} brighter`,
        custom_id: `item-${i}`,
      })),
      defaults: { steps: 20 },
    });
    const times: number[] = [];
    for (let run = 0; run <= RUNS; run++) {
      const started = performance.now();
      const response = await fetch(`${base}/v1/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body,
      });
      const answer = await response.text();
      const ms = performance.now() - started;
      if (response.status !== 202) throw new Error(`POST /v1/batches: ${response.status} ${answer.slice(0, 300)}`);
      const counts = (JSON.parse(answer) as { counts: { total: number } }).counts;
      if (counts.total !== ITEMS) throw new Error(`batch has ${counts.total} items, not ${ITEMS}`);
      if (run > 0) times.push(ms);
      console.log(`${run === 0 ? 'warm-up' : `run ${run}`}: ${ITEMS} items accepted in ${ms.toFixed(1)} ms`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    // Queued as the service counts it: jobs in BullMQ plus edits waiting in the fair queues.
    const queue = new BullmqJobQueue({ connection: redis, keys: new RedisKeys('benchb') });
    const jobs = (await queue.depth()).total;
    await queue.close();
    console.log(
      `batches: ${ITEMS} image_key items, p50 ${p50.toFixed(1)} ms, min ${sorted[0].toFixed(1)} ms, max ` +
        `${sorted[sorted.length - 1].toFixed(1)} ms over ${RUNS} runs (${(body.length / 1024).toFixed(0)} KB body); ` +
        `${jobs} edits queued; target p50 < ${TARGET_P50_MS} ms`,
    );
    if (jobs !== ITEMS * (RUNS + 1)) throw new Error(`expected ${ITEMS * (RUNS + 1)} queued edits, found ${jobs}`);
    failed = p50 >= TARGET_P50_MS;
  } finally {
    await api.stop();
    redis.disconnect();
    await s3.stop();
    await redisServer.stop();
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
