import { ENV_SCHEMA, type EnvName, type ParsedEnv } from './config.schema';
import type { ApiKeySeed } from './env-var';

/** The whole service's configuration, typed and validated once at boot, then injected (never read at import). */
export interface AppConfig {
  server: { port: number; host: string; role: 'all' | 'api' | 'worker'; logLevel: 'error' | 'warn' | 'info' | 'debug' };
  redis: { url: string | null; keyPrefix: string; /** REDIS_CLUSTER */ cluster: boolean };
  s3: {
    endpoint: string | null;
    bucket: string;
    region: string;
    accessKeyId: string | null;
    secretAccessKey: string | null;
    forcePathStyle: boolean;
  };
  auth: { apiKeys: ApiKeySeed[]; internalApiToken: string | null };
  egress: { allowlist: string[] };
  limits: {
    queueMaxDepth: number;
    queueFullRetryAfterS: number;
    preferWaitMaxS: number;
    maxJsonBodyBytes: number;
    maxUploadBytes: number;
    maxImagePixels: number;
    maxAspectRatio: number;
    imageFetchTimeoutMs: number;
    imageFetchMaxRedirects: number;
    idempotencyTtlS: number;
    uploadUrlTtlS: number;
    outputUrlTtlS: number;
  };
  retention: { objectDays: number; editRecordDays: number };
  fairness: {
    /** TENANT_WEIGHTS (unlisted tenants weigh 1). */
    tenantWeights: ReadonlyMap<string, number>;
    /** TENANT_MAX_RUNNING; 0 = no cap. */
    maxRunningPerTenant: number;
    /** TENANT_MAX_QUEUED; 0 = no cap. */
    maxQueuedPerTenant: number;
    /** EDIT_READY_PER_LANE. */
    readyPerLane: number;
  };
  queue: {
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    editMaxAttempts: number;
    editRetryBackoffMs: number;
    /** MODEL_VERSION: stamped on every edit job; null when unset (any worker runs any edit). */
    modelVersion: string | null;
  };
  worker: {
    concurrency: number;
    webhookConcurrency: number;
    shutdownGraceMs: number;
    modelsDir: string | null;
    /** ALLOW_RANDOM_WEIGHTS: serve random-weight models outside local mode (tests, demos). */
    allowRandomWeights: boolean;
    executionProviders: string[];
    intraOpThreads: number;
    /** ORT_CPU_MEM_ARENA */
    cpuMemArena: boolean;
    /** ORT_MEM_PATTERN */
    memPattern: boolean;
    /** WORKER_HEALTH_PORT; 0 = no health server. */
    healthPort: number;
  };
  webhooks: {
    retryScheduleMs: number[];
    jitter: number;
    timeoutMs: number;
    progressMinIntervalMs: number;
    /** WEBHOOK_SECRET_OVERLAP_S: how long a rotated-out secret still signs deliveries. */
    secretOverlapS: number;
  };
  /** Per API key, in Redis (docs/ARCHITECTURE.md "Rate limits"); 0 turns a limit off. */
  rateLimits: { rps: number; burst: number; editsPerMin: number };
  batches: { maxBodyBytes: number; maxItems: number };
  events: { ttlS: number; maxLen: number; sseHeartbeatMs: number };
  /** The OpenAI-compatible routes (apps/api/src/openai). */
  openai: { syncTimeoutS: number; modelId: string };
}

export interface ConfigProblem {
  name: string;
  /** The offending value, or `(hidden)` for secrets. */
  value: string;
  message: string;
}

/** Thrown once, naming every invalid variable, so a bad deploy shows all its mistakes at the first boot. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`Invalid environment variables: ${problems.map((p) => `${p.name}=${p.value} (${p.message})`).join('; ')}`);
    this.name = 'ConfigError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Why each role cannot run without Redis, for the message. */
const NEEDS_REDIS = {
  api: 'the API keeps its records and enqueues edits in Redis',
  worker: 'the worker takes its jobs from Redis',
} as const;

/** A role that needs Redis started with REDIS_URL unset (only `npm start` runs without it: it starts a local one). */
export class MissingRedisUrlError extends Error {
  readonly code = 'missing_redis_url';

  constructor(readonly role: keyof typeof NEEDS_REDIS) {
    super(`REDIS_URL is unset: ${NEEDS_REDIS[role]} (npm start runs a local one)`);
    this.name = 'MissingRedisUrlError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** REDIS_URL, for a role that cannot start without it. */
export function requireRedisUrl(config: AppConfig, role: keyof typeof NEEDS_REDIS): string {
  if (!config.redis.url) throw new MissingRedisUrlError(role);
  return config.redis.url;
}

/** REDIS_URL and REDIS_CLUSTER, for a role that cannot start without Redis. */
export function requireRedisTarget(
  config: AppConfig,
  role: keyof typeof NEEDS_REDIS,
): { url: string; cluster: boolean } {
  return { url: requireRedisUrl(config, role), cluster: config.redis.cluster };
}

export type Env = Readonly<Record<string, string | undefined>>;

function parseAll(env: Env, problems: ConfigProblem[]): ParsedEnv {
  const parsed: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(ENV_SCHEMA)) {
    const raw = env[name];
    const given = raw !== undefined && raw !== '';
    const text = given ? raw : spec.default;
    if (text === undefined) {
      parsed[name] = null;
      continue;
    }
    try {
      parsed[name] = spec.parse(text);
    } catch (error) {
      const secret = 'secret' in spec && spec.secret === true;
      problems.push({ name, value: secret ? '(hidden)' : JSON.stringify(text), message: (error as Error).message });
    }
  }
  return parsed as ParsedEnv;
}

function crossCheck(parsed: ParsedEnv, problems: ConfigProblem[]): void {
  const problem = (name: EnvName, message: string) => problems.push({ name, value: '(see message)', message });
  if ((parsed.S3_ACCESS_KEY_ID === null) !== (parsed.S3_SECRET_ACCESS_KEY === null)) {
    problem('S3_SECRET_ACCESS_KEY', 'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither');
  }
  const keys = new Set<string>();
  for (const seed of parsed.API_KEYS ?? []) {
    if (keys.has(seed.key)) problem('API_KEYS', `a key is listed twice (tenant ${seed.tenantId})`);
    keys.add(seed.key);
  }
}

/**
 * Reads and validates every variable of `ENV_SCHEMA` from `env` (pass `process.env`). Pure: no I/O, no globals.
 * @throws ConfigError naming every invalid variable at once.
 */
export function loadConfig(env: Env): AppConfig {
  const problems: ConfigProblem[] = [];
  const p = parseAll(env, problems);
  if (problems.length === 0) crossCheck(p, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    server: { port: p.PORT, host: p.HOST, role: p.ROLE, logLevel: p.LOG_LEVEL },
    redis: { url: p.REDIS_URL, keyPrefix: p.REDIS_KEY_PREFIX, cluster: p.REDIS_CLUSTER },
    s3: {
      endpoint: p.S3_ENDPOINT,
      bucket: p.S3_BUCKET,
      region: p.S3_REGION,
      accessKeyId: p.S3_ACCESS_KEY_ID,
      secretAccessKey: p.S3_SECRET_ACCESS_KEY,
      forcePathStyle: p.S3_FORCE_PATH_STYLE,
    },
    auth: { apiKeys: p.API_KEYS, internalApiToken: p.INTERNAL_API_TOKEN },
    egress: { allowlist: p.EGRESS_ALLOWLIST },
    limits: {
      queueMaxDepth: p.QUEUE_MAX_DEPTH,
      queueFullRetryAfterS: p.QUEUE_FULL_RETRY_AFTER_S,
      preferWaitMaxS: p.PREFER_WAIT_MAX_S,
      maxJsonBodyBytes: p.MAX_JSON_BODY_BYTES,
      maxUploadBytes: p.MAX_UPLOAD_BYTES,
      maxImagePixels: p.MAX_IMAGE_PIXELS,
      maxAspectRatio: p.MAX_ASPECT_RATIO,
      imageFetchTimeoutMs: p.IMAGE_FETCH_TIMEOUT_MS,
      imageFetchMaxRedirects: p.IMAGE_FETCH_MAX_REDIRECTS,
      idempotencyTtlS: p.IDEMPOTENCY_TTL_S,
      uploadUrlTtlS: p.UPLOAD_URL_TTL_S,
      outputUrlTtlS: p.OUTPUT_URL_TTL_S,
    },
    retention: { objectDays: p.OBJECT_RETENTION_DAYS, editRecordDays: p.EDIT_RETENTION_DAYS },
    fairness: {
      tenantWeights: p.TENANT_WEIGHTS,
      maxRunningPerTenant: p.TENANT_MAX_RUNNING,
      maxQueuedPerTenant: p.TENANT_MAX_QUEUED,
      readyPerLane: p.EDIT_READY_PER_LANE,
    },
    queue: {
      lockDurationMs: p.BULLMQ_LOCK_DURATION_MS,
      stalledIntervalMs: p.BULLMQ_STALLED_INTERVAL_MS,
      maxStalledCount: p.BULLMQ_MAX_STALLED_COUNT,
      editMaxAttempts: p.EDIT_MAX_ATTEMPTS,
      editRetryBackoffMs: p.EDIT_RETRY_BACKOFF_MS,
      modelVersion: p.MODEL_VERSION,
    },
    worker: {
      concurrency: p.WORKER_CONCURRENCY,
      webhookConcurrency: p.WEBHOOK_CONCURRENCY,
      shutdownGraceMs: p.SHUTDOWN_GRACE_MS,
      modelsDir: p.MODELS_DIR,
      allowRandomWeights: p.ALLOW_RANDOM_WEIGHTS,
      executionProviders: p.ORT_EXECUTION_PROVIDERS,
      intraOpThreads: p.ORT_INTRA_OP_THREADS,
      cpuMemArena: p.ORT_CPU_MEM_ARENA,
      memPattern: p.ORT_MEM_PATTERN,
      healthPort: p.WORKER_HEALTH_PORT,
    },
    webhooks: {
      retryScheduleMs: p.WEBHOOK_RETRY_SCHEDULE,
      jitter: p.WEBHOOK_RETRY_JITTER,
      timeoutMs: p.WEBHOOK_TIMEOUT_MS,
      progressMinIntervalMs: p.WEBHOOK_PROGRESS_MIN_INTERVAL_MS,
      secretOverlapS: p.WEBHOOK_SECRET_OVERLAP_S,
    },
    rateLimits: { rps: p.RATE_LIMIT_RPS, burst: p.RATE_LIMIT_BURST, editsPerMin: p.RATE_LIMIT_EDITS_PER_MIN },
    batches: { maxBodyBytes: p.MAX_BATCH_BODY_BYTES, maxItems: p.BATCH_MAX_ITEMS },
    events: { ttlS: p.EDIT_EVENTS_TTL_S, maxLen: p.EDIT_EVENTS_MAX_LEN, sseHeartbeatMs: p.SSE_HEARTBEAT_MS },
    openai: { syncTimeoutS: p.OPENAI_SYNC_TIMEOUT_S, modelId: p.OPENAI_MODEL_ID },
  };
}

/**
 * MAX_IMAGE_PIXELS and MAX_ASPECT_RATIO as `@step1x/imaging`'s decode limits: the API's intake check and the
 * worker's pipeline both take them from here, so raising or lowering either changes both sides together.
 */
export function imageDecodeLimits(config: Pick<AppConfig, 'limits'>): { maxPixels: number; maxAspectRatio: number } {
  return { maxPixels: config.limits.maxImagePixels, maxAspectRatio: config.limits.maxAspectRatio };
}
