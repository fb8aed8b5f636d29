/**
 * Service benchmark (`npm run bench -- service`): the API as a separate `step1x start` process (ROLE=api) over a
 * local redis-server and s3rver, loaded from this process over loopback at concurrency 16, beside raw BullMQ
 * `Queue.add` on the same Redis as the yardstick. No worker runs during the submit phases (QUEUE_MAX_DEPTH is
 * raised), so the numbers are the API's own. Then a worker process (tiny models) finishes a batch of edits so the
 * Redis bytes a finished edit keeps can be printed. Exits non-zero when a target is missed.
 *
 * Knobs: BENCH_SECONDS (measured seconds per phase, default 5), BENCH_CPU_PROF=<dir> (the API process writes a
 * V8 CPU profile there), BENCH_FINISHED_EDITS (edits the worker finishes, default 40), BENCH_PHASES (a comma list
 * of raw, multipart, image_key, get, finished; all by default).
 */
import { loadavg } from 'node:os';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { startRedisServer, startS3rver, s3rverEnv, type RedisServerHandle } from '@step1x/local-services';
import { RedisKeys } from '@step1x/edit-store';
import { ensureTinyModels } from '@step1x/model-builder';
import { startService, type ServiceProcess } from './bench-service';
import { childCpuMs, formatLoad, LoadClient, runLoad, type LoadResult } from './load-loop';

const CONCURRENCY = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FINISHED_EDITS = Number(process.env.BENCH_FINISHED_EDITS ?? 40);
/** Phases to run (for profiling one of them); all by default. */
const PHASES = new Set((process.env.BENCH_PHASES ?? 'raw,multipart,image_key,get,finished').split(','));
const TENANT = 'bench';
const API_KEY = 'sk_bench_0123456789abcdef';
const PREFIX = 'bench';
const BENCH_KEYS = new RedisKeys(PREFIX);

/** issue 7 §5 targets. */
const TARGETS = {
  imageKey: { perSecond: 1500, p99Ms: 25 },
  multipart: { perSecond: 600, p99Ms: 50 },
} as const;

function multipartBody(boundary: string, fields: Record<string, string>, png: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="input.png"\r\n` +
        'Content-Type: image/png\r\n\r\n',
    ),
    png,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return Buffer.concat(parts);
}

/** Names the bench's children in the CPU table. */
function processName(commandLine: string): string {
  if (commandLine.includes('redis-server')) return 'redis-server';
  if (commandLine.includes('S3rver')) return 's3rver';
  if (/step1x\.js start/.test(commandLine)) return 'API (step1x start)';
  return commandLine.slice(0, 40);
}

/** Runs a phase and adds the CPU each process spent per operation (robust to other load on the machine). */
async function withCpu(phase: () => Promise<LoadResult>): Promise<LoadResult & { cpuMsPerOp: Map<string, number> }> {
  const before = childCpuMs(processName);
  const result = await phase();
  const after = childCpuMs(processName);
  const cpuMsPerOp = new Map<string, number>();
  for (const [name, ms] of after) cpuMsPerOp.set(name, (ms - (before.get(name) ?? 0)) / result.operations);
  return { ...result, cpuMsPerOp };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Bytes Redis holds for our keys of the given edits, by MEMORY USAGE of each key that names one of them. */
async function bytesOfEdits(
  redis: Redis,
  editIds: string[],
): Promise<{ perEdit: number; byKind: Map<string, number> }> {
  const byKind = new Map<string, number>();
  const add = (kind: string, bytes: number) => byKind.set(kind, (byKind.get(kind) ?? 0) + bytes);
  for (const id of editIds) {
    for (const [kind, key] of [
      ['edit record', BENCH_KEYS.edit(id)],
      ['webhook deliveries', BENCH_KEYS.editDeliveries(id)],
      ['event stream', BENCH_KEYS.editEvents(id)],
      ['BullMQ job hash', `${BENCH_KEYS.bullPrefix()}:edit:${id}`],
      ['BullMQ job lock', `${BENCH_KEYS.bullPrefix()}:edit:${id}:lock`],
      ['BullMQ job logs', `${BENCH_KEYS.bullPrefix()}:edit:${id}:logs`],
    ] as const) {
      const bytes = (await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number | null;
      if (bytes) add(kind, bytes);
    }
  }
  const total = [...byKind.values()].reduce((a, b) => a + b, 0);
  return { perEdit: total / editIds.length, byKind };
}

/** A presigned upload of `png` (POST /v1/uploads, then the PUT); returns its image_key. */
async function uploadImage(client: LoadClient, auth: Record<string, string>, png: Buffer): Promise<string> {
  const answer = await client.send(
    'POST',
    '/v1/uploads',
    { ...auth, 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ content_type: 'image/png', size: png.length })),
  );
  if (answer.status !== 201 && answer.status !== 200)
    throw new Error(`POST /v1/uploads: ${answer.status} ${answer.body}`);
  const ticket = JSON.parse(answer.body.toString()) as {
    image_key: string;
    upload_url: string;
    headers: Record<string, string>;
  };
  const put = await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: png });
  if (!put.ok) throw new Error(`upload PUT: ${put.status} ${await put.text()}`);
  return ticket.image_key;
}

async function waitUntilFinished(redis: Redis, editIds: string[], worker: ServiceProcess): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const statuses = await Promise.all(editIds.map((id) => redis.hget(BENCH_KEYS.edit(id), 'status')));
    if (statuses.every((s) => s === 'succeeded' || s === 'failed' || s === 'canceled')) {
      const bad = statuses.filter((s) => s !== 'succeeded').length;
      if (bad) throw new Error(`${bad} of ${editIds.length} edits did not succeed:\n${worker.output()}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`the worker did not finish the batch in time:\n${worker.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function rawBullmq(redis: RedisServerHandle): Promise<LoadResult> {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix: 'rawbench' });
  try {
    return await runLoad({
      name: 'raw BullMQ Queue.add',
      concurrency: CONCURRENCY,
      warmupMs: 1000,
      durationMs: SECONDS * 1000,
      operation: async (i) => {
        await queue.add(
          'edit-image',
          { editId: `e${i}`, tenantId: TENANT },
          { jobId: `e${i}`, priority: 1, attempts: 3, removeOnComplete: { age: 3600 } },
        );
        return null;
      },
    });
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const redisServer = await startRedisServer();
  const s3 = await startS3rver();
  const redis = new Redis(redisServer.url);
  const env = {
    ROLE: 'api',
    PORT: '0',
    LOG_LEVEL: 'warn',
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: PREFIX,
    ...s3rverEnv(s3),
    API_KEYS: `${TENANT}:${API_KEY}`,
    QUEUE_MAX_DEPTH: '10000000',
    // The limiter still counts every request (its cost is part of the numbers) but never refuses one.
    RATE_LIMIT_RPS: '1000000',
    RATE_LIMIT_EDITS_PER_MIN: '10000000',
  };
  const cpuProf = process.env.BENCH_CPU_PROF;
  const api = await startService(
    env,
    /is up at (http:\/\/\S+)/,
    cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [],
  );
  const client = new LoadClient(api.url!, CONCURRENCY);
  const auth = { authorization: `Bearer ${API_KEY}` };
  const results: Array<LoadResult & { cpuMsPerOp: Map<string, number> }> = [];
  const createdIds: string[] = [];
  const expect = (status: number, answer: { status: number; body: Buffer }) =>
    answer.status === status ? null : `${answer.status} ${answer.body.toString().slice(0, 200)}`;
  const checks: Array<[LoadResult, { perSecond: number; p99Ms: number }]> = [];
  let worker: ServiceProcess | null = null;
  let failures = 0;
  try {
    const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .png()
      .toBuffer();

    if (PHASES.has('raw')) results.push(await withCpu(() => rawBullmq(redisServer)));

    let accepted = 0;
    const submitPhase = (name: string, headers: Record<string, string>, body: Buffer) =>
      runLoad({
        name,
        concurrency: CONCURRENCY,
        warmupMs: 1000,
        durationMs: SECONDS * 1000,
        operation: async () => {
          const answer = await client.send('POST', '/v1/edits', headers, body);
          if (answer.status === 202) {
            accepted++;
            if (createdIds.length < 5000) createdIds.push(JSON.parse(answer.body.toString()).id);
          }
          return expect(202, answer);
        },
      });
    const boundary = '----step1xbench7c1f';
    const multipart = multipartBody(boundary, { instruction: 'make it snowy', steps: '2' }, png);
    const multipartHeaders = { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` };
    const memoryBefore = await usedMemory(redis);
    if (PHASES.has('multipart')) {
      const result = await withCpu(() =>
        submitPhase('POST /v1/edits multipart 96×64 PNG', multipartHeaders, multipart),
      );
      results.push(result);
      checks.push([result, TARGETS.multipart]);
    }

    // One presigned upload, used by every image_key submit (nothing caches by key: each submit reads it from S3).
    const ticket = await uploadImage(client, auth, png);
    const jsonHeaders = { ...auth, 'content-type': 'application/json' };
    const imageKeyBody = Buffer.from(JSON.stringify({ image_key: ticket, instruction: 'make it snowy', steps: 2 }));
    if (PHASES.has('image_key')) {
      const result = await withCpu(() => submitPhase('POST /v1/edits JSON image_key', jsonHeaders, imageKeyBody));
      results.push(result);
      checks.push([result, TARGETS.imageKey]);
    }
    const memoryGrowth = (await usedMemory(redis)) - memoryBefore;
    if (PHASES.has('get') && createdIds.length > 0) {
      results.push(
        await withCpu(() =>
          runLoad({
            name: 'GET /v1/edits/{id}',
            concurrency: CONCURRENCY,
            warmupMs: 1000,
            durationMs: SECONDS * 1000,
            operation: async (i) =>
              expect(200, await client.send('GET', `/v1/edits/${createdIds[i % createdIds.length]}`, auth)),
          }),
        ),
      );
    }
    const loadAfter = loadavg();
    console.log(
      `concurrency ${CONCURRENCY}, ${SECONDS} s per phase, load average ${loadBefore[0].toFixed(2)} before, ` +
        `${loadAfter[0].toFixed(2)} after (2 cores shared)`,
    );
    for (const result of results) console.log(formatLoad(result));
    console.log('CPU ms per operation, by process (independent of how busy the machine is):');
    for (const result of results) {
      const parts = [...result.cpuMsPerOp].filter(([, ms]) => ms >= 0.005);
      console.log(`  ${result.name.padEnd(34)} ${parts.map(([name, ms]) => `${name} ${ms.toFixed(2)}`).join(', ')}`);
    }
    if (accepted > 0) {
      console.log(
        `Redis used_memory growth per queued edit (record, index, job, events): ` +
          `${(memoryGrowth / accepted).toFixed(0)} B over ${accepted} edits`,
      );
    }

    if (PHASES.has('finished')) {
      // Finished edits: empty the queue (BullMQ's jobs and the fair queues that feed it), submit a batch, let a
      // worker with the tiny models finish them.
      const queueKeys = [
        ...(await redis.keys(`${BENCH_KEYS.bullPrefix()}:edit:*`)),
        ...(await redis.keys(`${BENCH_KEYS.prefix}:fair:*`)),
      ];
      if (queueKeys.length > 0) await redis.call('DEL', ...queueKeys);
      const { modelsDir } = await ensureTinyModels();
      const batchIds: string[] = [];
      const smallEdit = { image_key: ticket, instruction: 'make it snowy', steps: 1, size_level: 512 };
      for (let i = 0; i < FINISHED_EDITS; i++) {
        const answer = await client.send('POST', '/v1/edits', jsonHeaders, Buffer.from(JSON.stringify(smallEdit)));
        if (answer.status !== 202) throw new Error(`submit for the worker: ${answer.status} ${answer.body}`);
        batchIds.push(JSON.parse(answer.body.toString()).id);
      }
      const bytesQueued = await bytesOfEdits(redis, batchIds);
      worker = await startService(
        // The tiny models have random weights: a worker outside local mode refuses them unless told (a bench measures
        // bytes, not edits).
        { ...env, ROLE: 'worker', MODELS_DIR: modelsDir, ALLOW_RANDOM_WEIGHTS: 'true' },
        /Step1X-Edit service \(worker\) is up/,
      );
      await waitUntilFinished(redis, batchIds, worker);
      const bytesFinished = await bytesOfEdits(redis, batchIds);
      const describe = (b: { perEdit: number; byKind: Map<string, number> }) =>
        `${b.perEdit.toFixed(0)} B (${[...b.byKind].map(([k, v]) => `${k} ${(v / batchIds.length).toFixed(0)}`).join(', ')})`;
      console.log(`Redis bytes per queued edit, by key:   ${describe(bytesQueued)}`);
      console.log(`Redis bytes per finished edit, by key: ${describe(bytesFinished)}`);
    }

    for (const [result, target] of checks) {
      const ok = result.unexpected === 0 && result.perSecond >= target.perSecond && result.p99Ms <= target.p99Ms;
      console.log(
        `${ok ? 'ok  ' : 'MISS'} ${result.name}: target ≥ ${target.perSecond}/s, p99 ≤ ${target.p99Ms} ms` +
          (result.unexpected ? `, and ${result.unexpected} unexpected answers` : ''),
      );
      if (!ok) failures++;
    }
    for (const result of results.filter((r) => !checks.some(([checked]) => checked === r))) {
      if (result.unexpected) {
        console.log(`MISS ${result.name}: ${result.unexpected} unexpected answers`);
        failures++;
      }
    }
  } finally {
    client.close();
    await worker?.stop();
    await api.stop();
    redis.disconnect();
    await s3.stop();
    await redisServer.stop();
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
