// The distributed service as real processes, like test/e2e/service-harness.ts, but with every dependency
// restartable where its clients expect it: redis-server (production settings from deploy/redis.conf, AOF on) on a
// fixed port and directory, s3rver behind a counting proxy on a fixed port, the API on a fixed port, the webhook
// receiver on a fixed port of 127.0.0.2, and workers under a supervisor that restarts any that die.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { EditObject } from '@step1x/contracts';
import {
  getFreePort,
  startRedisServer,
  startS3rver,
  startWebhookReceiver,
  type RedisServerHandle,
  type S3rverHandle,
  type WebhookReceiver,
} from '../support';
import { FAST_TIMINGS, spawnService, TENANTS, type ServiceProcess, type TenantName } from '../e2e/service-harness';
import { tinyModelsDir } from '../support/tiny-models';
import { startS3CountingProxy, type S3CountingProxy } from './s3-counting-proxy';

// Compiled to test/dist/chaos: the repository root is three levels up.
const REPO_ROOT = join(__dirname, '..', '..', '..');

/**
 * deploy/redis.conf as `--name value…` arguments, appended after the throw-away defaults of startRedisServer so
 * they win (AOF on, fsync every second, noeviction); port, bind address and directory stay the test's own.
 */
export function productionRedisArgs(confPath = join(REPO_ROOT, 'deploy', 'redis.conf')): string[] {
  const args: string[] = [];
  for (const raw of readFileSync(confPath, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [name, ...values] = line.split(/\s+/);
    if (['port', 'bind', 'dir', 'daemonize'].includes(name)) continue;
    args.push(`--${name}`, ...values.map((value) => (value === '""' ? '' : value)));
  }
  return args;
}

export class WorkerSupervisor {
  private readonly running = new Set<ServiceProcess>();
  private restarting = true;
  /** Restarts done because a worker died without being asked to. */
  restarts = 0;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly spawnWorker: () => ServiceProcess) {}

  /**
   * Starts one worker and resolves once it takes jobs (models loaded and warm). A worker that dies after that is
   * restarted; one that dies before it ever took jobs is not (a boot failure would only crash-loop): it rejects.
   */
  async start(): Promise<ServiceProcess> {
    const worker = this.spawnWorker();
    this.running.add(worker);
    let ready = false;
    void worker.exited.then(() => {
      this.running.delete(worker);
      if (!ready || !this.restarting) return;
      this.restarts++;
      const restarted = this.start().catch(() => undefined);
      this.pending.add(restarted);
      void restarted.finally(() => this.pending.delete(restarted));
    });
    await worker.waitForOutput(/taking jobs/, 300_000);
    ready = true;
    return worker;
  }

  workers(): ServiceProcess[] {
    return [...this.running];
  }

  /** Resolves once `count` workers are up and none is being restarted. */
  async settle(count = 1): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    while (this.running.size < count) await this.start();
  }

  /** SIGTERM (drain) every worker without restarting them. */
  async stopAll(): Promise<void> {
    this.restarting = false;
    while (this.pending.size > 0) await Promise.all(this.pending);
    await Promise.all([...this.running].map((w) => w.process.stop(30_000)));
    this.restarting = true;
  }
}

export interface ChaosStack {
  env: Record<string, string>;
  apiUrl: string;
  redis: RedisServerHandle;
  s3: S3rverHandle;
  s3Proxy: S3CountingProxy;
  receiver: WebhookReceiver;
  redisClient: Redis;
  supervisor: WorkerSupervisor;
  call(path: string, init?: RequestInit & { tenant?: TenantName }): Promise<Response>;
  /** SIGTERM and restart redis-server on the same port and directory (AOF replayed). */
  restartRedis(downMs?: number): Promise<void>;
  /** Stop s3rver and refuse connections to its endpoint; `s3Up` starts it again on the same data. */
  s3Down(): Promise<void>;
  s3Up(): Promise<void>;
  receiverDown(): Promise<void>;
  receiverUp(): Promise<void>;
  /** SIGKILL the API process (nothing runs on its way out). */
  killApi(): Promise<void>;
  /** Starts the API again on the same port; resolves once it answers. */
  startApi(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChaosStack(extraEnv: Record<string, string> = {}): Promise<ChaosStack> {
  const modelsDir = await tinyModelsDir();
  const redisDir = mkdtempSync(join(tmpdir(), 'step1x-chaos-redis-'));
  const s3Dir = mkdtempSync(join(tmpdir(), 'step1x-chaos-s3-'));
  const redisArgs = productionRedisArgs();
  let redis = await startRedisServer({ dir: redisDir, extraArgs: redisArgs });
  let s3 = await startS3rver({ dir: s3Dir });
  const s3Proxy = await startS3CountingProxy(s3.bucket, s3.port);
  const receiverPort = await getFreePort('127.0.0.2');
  let receiver = await startWebhookReceiver({ host: '127.0.0.2', port: receiverPort });
  const apiPort = await getFreePort('127.0.0.1');
  const env: Record<string, string> = {
    // The tiny random-weight models, as the e2e service harness hands them to its workers.
    MODELS_DIR: modelsDir,
    ALLOW_RANDOM_WEIGHTS: 'true',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'chaos',
    S3_ENDPOINT: s3Proxy.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    API_KEYS: Object.values(TENANTS)
      .map((t) => `${t.id}:${t.key}`)
      .join(','),
    EGRESS_ALLOWLIST: '127.0.0.2/32',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    LOG_LEVEL: 'info',
    QUEUE_MAX_DEPTH: '100000',
    ...FAST_TIMINGS,
    ...extraEnv,
  };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  let api: ServiceProcess | null = null;
  const supervisor = new WorkerSupervisor(() => spawnService({ ...env, ROLE: 'worker' }));
  const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 20, retryStrategy: () => 200 });
  // Redis restarts on purpose; the client reconnects, and its commands wait for that.
  redisClient.on('error', () => undefined);

  const startApi = async () => {
    api = spawnService({ ...env, ROLE: 'api', LOG_LEVEL: 'warn' });
    await api.waitForOutput(/is up at/, 300_000);
  };

  const stack: ChaosStack = {
    env,
    apiUrl,
    get redis() {
      return redis;
    },
    get s3() {
      return s3;
    },
    s3Proxy,
    get receiver() {
      return receiver;
    },
    redisClient,
    supervisor,
    call: (path, init = {}) => {
      const { tenant = 'acme', ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('authorization', `Bearer ${TENANTS[tenant].key}`);
      return fetch(`${apiUrl}${path}`, { ...rest, headers, signal: rest.signal ?? AbortSignal.timeout(60_000) });
    },
    async restartRedis(downMs = 1000) {
      const port = redis.port;
      await redis.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      redis = await startRedisServer({ dir: redisDir, port, extraArgs: redisArgs });
    },
    async s3Down() {
      await s3Proxy.down();
      await s3.stop();
    },
    async s3Up() {
      s3 = await startS3rver({ dir: s3Dir, bucket: s3.bucket });
      s3Proxy.setUpstream(s3.port);
      await s3Proxy.up();
    },
    receiverDown: () => receiver.stop(),
    async receiverUp() {
      const previous = receiver.requests;
      receiver = await startWebhookReceiver({ host: '127.0.0.2', port: receiverPort });
      // One log of everything received, whichever incarnation received it.
      (receiver.requests as unknown as unknown[]).unshift(...previous);
    },
    async killApi() {
      if (!api) return;
      api.kill('SIGKILL');
      await api.exited;
    },
    startApi,
    async stop() {
      await supervisor.stopAll();
      if (api) await api.process.stop(10_000);
      redisClient.disconnect();
      await receiver.stop();
      await s3Proxy.stop();
      await s3.stop();
      await redis.stop();
      rmSync(redisDir, { recursive: true, force: true });
      rmSync(s3Dir, { recursive: true, force: true });
    },
  };
  try {
    await startApi();
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** GET /v1/edits, every page, for one tenant. */
export async function listAllEdits(stack: Pick<ChaosStack, 'call'>, tenant: TenantName = 'acme') {
  const all: EditObject[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const response = await stack.call(`/v1/edits${query}`, { tenant });
    if (response.status !== 200) throw new Error(`GET /v1/edits answered ${response.status}`);
    const page = (await response.json()) as { data: EditObject[]; next_cursor: string | null };
    all.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}
