// The distributed service as real processes: redis-server, s3rver, the API (`step1x start` with ROLE=api) and
// workers (`step1x start` with ROLE=worker, the real pipeline on the tiny random-weight models, given as MODELS_DIR
// with ALLOW_RANDOM_WEIGHTS), wired only through the environment exactly as a deployment would be, plus a webhook receiver on 127.0.0.2 (the only address the egress allowlist lets in).
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import type { EditObject, WebhookEvent } from '@step1x/contracts';
import { createRedisConnection, type RedisClient } from '@step1x/edit-store';
import { S3ObjectStore } from '@step1x/storage';
import { spawnManaged, type ManagedProcess, type ProcessExit } from '../support/managed-process';
import {
  startRedisCluster,
  startRedisServer,
  SUITE_REDIS_CLUSTER_ENV,
  type RedisServerHandle,
} from '../support/redis-server';
import { s3rverEnv, startS3rver, type S3rverHandle } from '../support/s3rver';
import { tinyModelsDir } from '../support/tiny-models';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver';

// Compiled to test/dist/e2e: the repository root is three levels up.
const ROOT = join(__dirname, '..', '..', '..');
export const CLI = join(ROOT, 'apps', 'cli', 'bin', 'step1x.js');
/** The production entry points (what an image runs), beside the CLI's `step1x start`. */
export const API_MAIN = join(ROOT, 'apps', 'api', 'dist', 'main.js');
export const WORKER_MAIN = join(ROOT, 'apps', 'worker', 'dist', 'main.js');

export const TENANTS = {
  acme: { id: 'acme', key: 'sk_e2e_acme_0123456789' },
  globex: { id: 'globex', key: 'sk_e2e_globex_0123456789' },
} as const;
export type TenantName = keyof typeof TENANTS;

/**
 * Fast but honest timings: a dead worker's lock expires in 8 s and is noticed within 1 s; webhook retries come
 * after 300 ms without jitter; an infrastructure retry after 200 ms. The lock is renewed every half lock duration
 * from the worker's event loop, which an edit holds for up to ~0.8 s at a time on a quiet machine (JS stages
 * between ONNX Runtime runs) and several times that when two test files share the 2 CPUs: 3 s locks were lost
 * under a live worker.
 */
export const FAST_TIMINGS: Readonly<Record<string, string>> = {
  BULLMQ_LOCK_DURATION_MS: '8000',
  BULLMQ_STALLED_INTERVAL_MS: '1000',
  BULLMQ_MAX_STALLED_COUNT: '2',
  EDIT_MAX_ATTEMPTS: '2',
  EDIT_RETRY_BACKOFF_MS: '200',
  WEBHOOK_RETRY_SCHEDULE: '0,300ms,300ms,300ms',
  WEBHOOK_RETRY_JITTER: '0',
};

export interface ServiceProcess {
  readonly process: ManagedProcess;
  readonly pid: number;
  /** Resolves with the first match of `pattern` in the process's output (stdout and stderr). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<ProcessExit>;
}

/**
 * Spawns `step1x start` (or another entry: `[API_MAIN]`, `[WORKER_MAIN]`) with exactly `env` (plus PATH/HOME), so
 * nothing leaks in from the test's environment. `wrapper` runs it through a command prefix that ends by exec'ing its
 * arguments (e.g. `unshare --mount …`).
 */
export function spawnService(
  env: Record<string, string>,
  entry: readonly string[] = [CLI, 'start'],
  wrapper: readonly string[] = [],
): ServiceProcess {
  const command = [...wrapper, process.execPath, ...entry];
  const managed = spawnManaged(command[0], command.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  return {
    process: managed,
    pid: managed.child.pid as number,
    exited: managed.exited,
    kill: (signal) => void managed.child.kill(signal),
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = managed.output().match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const onExit = () => {
          check();
          done();
          reject(new Error(`service exited before printing ${pattern}:\n${managed.output()}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${managed.output()}`));
        }, timeoutMs);
        function done() {
          clearTimeout(timer);
          managed.child.stdout?.off('data', check);
          managed.child.stderr?.off('data', check);
          managed.child.off('exit', onExit);
        }
        managed.child.stdout?.on('data', check);
        managed.child.stderr?.on('data', check);
        managed.child.once('exit', onExit);
        check();
      }),
  };
}

export interface ServiceStack {
  apiUrl: string;
  env: Record<string, string>;
  /** The redis-server, or with `redisCluster` the cluster (its `url` is the seed node the service is given). */
  redis: Pick<RedisServerHandle, 'url' | 'stop'>;
  s3: S3rverHandle;
  receiver: WebhookReceiver;
  /** A Redis client for the tests' own looks at the store of record (an ioredis Cluster with `redisCluster`). */
  redisClient: RedisClient;
  objectStore: S3ObjectStore;
  api: ServiceProcess;
  keyPrefix: string;
  /** Starts a worker process and resolves once it takes jobs (models loaded and warm). */
  startWorker(extraEnv?: Record<string, string>): Promise<ServiceProcess>;
  call(path: string, init?: RequestInit & { tenant?: TenantName | null }): Promise<Response>;
  stop(): Promise<void>;
}

export interface ServiceStackOptions {
  /** Run on a real local 3-master Redis Cluster (REDIS_CLUSTER=true) instead of one redis-server. */
  redisCluster?: boolean;
}

export async function startServiceStack(
  extraEnv: Record<string, string> = {},
  options: ServiceStackOptions = {},
): Promise<ServiceStack> {
  const modelsDir = await tinyModelsDir();
  // STEP1X_TEST_REDIS_CLUSTER=1 runs every suite built on this harness against a real 3-master cluster.
  const redisCluster = options.redisCluster ?? process.env[SUITE_REDIS_CLUSTER_ENV] === '1';
  const redis = redisCluster ? await startRedisCluster() : await startRedisServer();
  const s3 = await startS3rver();
  const receiver = await startWebhookReceiver({ host: '127.0.0.2' });
  const keyPrefix = 'svc';
  const env: Record<string, string> = {
    MODELS_DIR: modelsDir,
    ALLOW_RANDOM_WEIGHTS: 'true',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: keyPrefix,
    ...(redisCluster ? { REDIS_CLUSTER: 'true' } : {}),
    ...s3rverEnv(s3),
    API_KEYS: Object.values(TENANTS)
      .map((t) => `${t.id}:${t.key}`)
      .join(','),
    EGRESS_ALLOWLIST: '127.0.0.2/32',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...FAST_TIMINGS,
    ...extraEnv,
  };
  const workers: ServiceProcess[] = [];
  const api = spawnService({ ...env, ROLE: 'api', LOG_LEVEL: 'warn' });
  const redisClient = createRedisConnection({ url: redis.url, cluster: redisCluster });
  const stopAll = async () => {
    await Promise.all([api, ...workers].map((p) => p.process.stop(10_000)));
    redisClient.disconnect();
    await receiver.stop();
    await s3.stop();
    await redis.stop();
  };
  try {
    const [, apiUrl] = await api.waitForOutput(/is up at (http:\/\/\S+)/);
    return {
      apiUrl,
      env,
      redis,
      s3,
      receiver,
      redisClient,
      keyPrefix,
      api,
      objectStore: new S3ObjectStore({
        bucket: s3.bucket,
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: s3.credentials,
      }),
      async startWorker(workerEnv = {}) {
        const worker = spawnService({ ...env, ROLE: 'worker', ...workerEnv });
        workers.push(worker);
        await worker.waitForOutput(/taking jobs/);
        return worker;
      },
      call: (path, init = {}) => {
        const { tenant = 'acme', ...rest } = init;
        const headers = new Headers(rest.headers);
        if (tenant) headers.set('authorization', `Bearer ${TENANTS[tenant].key}`);
        return fetch(`${apiUrl}${path}`, { ...rest, headers });
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Polls GET /v1/edits/:id until `done(edit)` holds; returns every distinct status seen, in order. */
export async function waitForEdit(
  stack: Pick<ServiceStack, 'call'>,
  id: string,
  done: (edit: EditObject) => boolean,
  timeoutMs = 60_000,
  tenant: TenantName = 'acme',
): Promise<{ edit: EditObject; statuses: string[] }> {
  const statuses: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await stack.call(`/v1/edits/${id}`, { tenant });
    const edit = (await response.json()) as EditObject;
    if (statuses.at(-1) !== edit.status) statuses.push(edit.status);
    if (done(edit)) return { edit, statuses };
    if (Date.now() > deadline) {
      throw new Error(`edit ${id} did not get there within ${timeoutMs} ms: ${JSON.stringify(edit)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const isTerminal = (edit: EditObject) => ['succeeded', 'failed', 'canceled'].includes(edit.status);

/** A JPEG stored 96×64 whose EXIF orientation (6: rotate 90° clockwise) makes it 64×96 as displayed. */
export function rotatedJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 200, g: 60, b: 30 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

export function pngOf(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .png()
    .toBuffer();
}

export function multipartOf(fields: Record<string, string>, image: { bytes: Buffer; type: string }): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('image', new Blob([image.bytes], { type: image.type }), 'input');
  return form;
}

export function jsonInit(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** Downloads a presigned output and reads its format and size. */
export async function downloadImage(
  url: string,
): Promise<{ contentType: string | null; width: number; height: number; format: string }> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const meta = await sharp(bytes).metadata();
  return {
    contentType: response.headers.get('content-type'),
    width: meta.width!,
    height: meta.height!,
    format: meta.format!,
  };
}

/** Verifies a delivery with the public `standardwebhooks` package and returns its parsed event. */
export function verifiedEvent(secret: string, request: ReceivedRequest): WebhookEvent {
  const headers = {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
  new Webhook(secret).verify(request.text, headers);
  return JSON.parse(request.text) as WebhookEvent;
}

/** Number of clients connected to Redis (CLIENT LIST), to see that a stopped worker closed all of its own. */
export async function redisClientCount(client: Redis | RedisClient): Promise<number> {
  const list = (await client.client('LIST')) as string;
  return list.split('\n').filter((line) => line.trim().length > 0).length;
}
