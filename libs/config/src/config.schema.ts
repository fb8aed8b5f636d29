import {
  enumListVar,
  apiKeysVar,
  boolVar,
  cidrListVar,
  durationListVar,
  enumVar,
  intVar,
  numberVar,
  stringVar,
  tenantWeightsVar,
  urlVar,
  type EnvVar,
} from './env-var';

const MB = 1024 * 1024;
const DAY_S = 86_400;

/**
 * Every environment variable the service reads, grouped as the README shows them. Nothing else in the code base
 * reads `process.env`: `loadConfig(env)` turns this table into one typed, validated `AppConfig`.
 */
export const ENV_SCHEMA = {
  // --- process ---
  PORT: intVar({ default: '3000', min: 0, max: 65535, doc: 'HTTP port of the API (0 picks a free one).' }),
  HOST: stringVar({ default: '127.0.0.1', doc: 'Address the API binds; use 0.0.0.0 in a container.' }),
  ROLE: enumVar({
    default: 'all',
    values: ['all', 'api', 'worker'] as const,
    doc: '`all` runs the API and an embedded worker in one process (the local default); `api` or `worker` runs one.',
  }),
  LOG_LEVEL: enumVar({
    default: 'info',
    values: ['error', 'warn', 'info', 'debug'] as const,
    doc: 'Lowest log level printed.',
  }),

  // --- Redis: BullMQ queues and the store of record ---
  REDIS_URL: urlVar({
    default: undefined,
    protocols: ['redis', 'rediss'],
    secret: true,
    doc: 'Redis for queues and records. Unset: `npm start` runs a local redis-server on a free port in a temp dir.',
  }),
  REDIS_KEY_PREFIX: stringVar({
    default: 's1x',
    pattern: /^[A-Za-z0-9_-]{1,32}$/,
    patternDoc: '[A-Za-z0-9_-]{1,32}',
    doc:
      'Prefix of every Redis key and channel we own, written as a Redis Cluster hash tag (`{s1x}:edit:<id>`, BullMQ ' +
      'under `{s1x}:bull`), so all of them share one slot.',
  }),
  REDIS_CLUSTER: boolVar({
    default: 'false',
    doc:
      'REDIS_URL is one node of a Redis Cluster: the client discovers the others from it (user, password and ' +
      '`rediss:` TLS apply to all). docs/DEPLOY.md, "Redis Cluster".',
  }),

  // --- S3: input images and results ---
  S3_ENDPOINT: urlVar({
    default: undefined,
    protocols: ['http', 'https'],
    doc: 'S3-compatible endpoint. Unset: AWS S3, except that `npm start` runs a local s3rver.',
  }),
  S3_BUCKET: stringVar({
    default: 'step1x-edits',
    pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    patternDoc: 'S3 bucket name',
    doc: 'Bucket holding inputs (`inputs/`), uploads (`uploads/`) and results (`outputs/`).',
  }),
  S3_REGION: stringVar({ default: 'us-east-1', doc: 'Region used for signing.' }),
  S3_ACCESS_KEY_ID: stringVar({
    default: undefined,
    doc: 'Access key; with S3_SECRET_ACCESS_KEY, or neither (the SDK default chain).',
  }),
  S3_SECRET_ACCESS_KEY: stringVar({ default: undefined, secret: true, doc: 'Secret key for S3_ACCESS_KEY_ID.' }),
  S3_FORCE_PATH_STYLE: boolVar({
    default: 'false',
    doc: 'Path-style URLs (`endpoint/bucket/key`), needed by s3rver and MinIO.',
  }),

  // --- auth and egress ---
  API_KEYS: apiKeysVar({
    default: '',
    secret: true,
    doc: 'Seeds API keys, `tenant:key,tenant2:key2`; stored in Redis as sha256 hashes only.',
  }),
  INTERNAL_API_TOKEN: stringVar({
    default: undefined,
    pattern: /^[\x21-\x7e]{32,256}$/,
    patternDoc: '32–256 printable characters',
    secret: true,
    doc: 'Bearer token of `GET /internal/scaling` (the autoscaler reads it). Unset: `/internal/*` answers 404.',
  }),
  EGRESS_ALLOWLIST: cidrListVar({
    default: '',
    doc: 'IPs/CIDRs the egress guard lets image_url and webhook_url reach despite being private (tests: 127.0.0.2/32).',
  }),

  // --- request limits ---
  QUEUE_MAX_DEPTH: intVar({
    default: '1000',
    min: 1,
    max: 10_000_000,
    doc: 'Queued edits (both lanes) above which POST /v1/edits answers 429 `queue_full`.',
  }),
  QUEUE_FULL_RETRY_AFTER_S: intVar({ default: '30', min: 1, max: 3600, doc: '`Retry-After` sent with `queue_full`.' }),
  PREFER_WAIT_MAX_S: intVar({
    default: '60',
    min: 0,
    max: 600,
    doc: 'Longest `Prefer: wait=N` honoured; larger N is clamped and answered with `Preference-Applied`.',
  }),
  MAX_JSON_BODY_BYTES: intVar({ default: String(256 * 1024), min: 1024, max: 16 * MB, doc: 'JSON body limit (413).' }),
  MAX_UPLOAD_BYTES: intVar({
    default: String(20 * MB),
    min: 1024,
    max: 1024 * MB,
    doc: 'Largest input image: multipart file, `image_url` download or presigned upload (413).',
  }),
  MAX_IMAGE_PIXELS: intVar({
    default: '40000000',
    min: 1,
    max: 268_402_689,
    doc: 'Largest decoded input, width × height (422 `image_too_large`).',
  }),
  MAX_ASPECT_RATIO: numberVar({ default: '100', min: 1, max: 1000, doc: 'Widest long:short side ratio (422).' }),
  IMAGE_FETCH_TIMEOUT_MS: intVar({
    default: '10000',
    min: 100,
    max: 120_000,
    doc: 'Timeout of the `image_url` download.',
  }),
  IMAGE_FETCH_MAX_REDIRECTS: intVar({ default: '3', min: 0, max: 10, doc: 'Redirects followed for `image_url`.' }),
  IDEMPOTENCY_TTL_S: intVar({
    default: String(DAY_S),
    min: 60,
    max: 30 * DAY_S,
    doc: 'How long Idempotency-Keys are kept.',
  }),
  UPLOAD_URL_TTL_S: intVar({ default: '900', min: 60, max: 7 * DAY_S, doc: 'Validity of presigned upload URLs.' }),
  OUTPUT_URL_TTL_S: intVar({ default: '3600', min: 60, max: 7 * DAY_S, doc: 'Validity of presigned result URLs.' }),

  // --- retention ---
  OBJECT_RETENTION_DAYS: intVar({
    default: '7',
    min: 1,
    max: 3650,
    doc: 'Days S3 objects (inputs, results) are kept.',
  }),
  EDIT_RETENTION_DAYS: intVar({
    default: '30',
    min: 1,
    max: 3650,
    doc: 'TTL of edit records, their list index and delivery attempts in Redis.',
  }),

  // --- queue and worker ---
  WORKER_CONCURRENCY: intVar({ default: '1', min: 1, max: 64, doc: 'Edits one worker runs at once (1 per GPU).' }),
  WEBHOOK_CONCURRENCY: intVar({ default: '8', min: 1, max: 256, doc: 'Webhook deliveries one worker sends at once.' }),
  BULLMQ_LOCK_DURATION_MS: intVar({
    default: '30000',
    min: 1000,
    max: 3_600_000,
    doc: "Job lock; renewed every half of it while the edit runs. A dead worker's job is re-run after this.",
  }),
  BULLMQ_STALLED_INTERVAL_MS: intVar({
    default: '30000',
    min: 500,
    max: 3_600_000,
    doc: 'How often workers look for stalled jobs (lock expired) and put them back in the queue.',
  }),
  BULLMQ_MAX_STALLED_COUNT: intVar({
    default: '2',
    min: 0,
    max: 100,
    doc: 'Stalls after which an edit fails instead of being re-queued.',
  }),
  EDIT_MAX_ATTEMPTS: intVar({
    default: '3',
    min: 1,
    max: 20,
    doc: 'Attempts per edit on infrastructure errors; invalid input is never retried.',
  }),
  EDIT_RETRY_BACKOFF_MS: intVar({
    default: '5000',
    min: 0,
    max: 3_600_000,
    doc: 'First retry delay, doubled each time.',
  }),
  SHUTDOWN_GRACE_MS: intVar({
    default: '25000',
    min: 0,
    max: 3_600_000,
    doc: 'On SIGTERM, time to finish the running edit before handing it back to the queue.',
  }),
  // --- fair scheduling across tenants (docs/ARCHITECTURE.md "Fair scheduling across tenants") ---
  TENANT_WEIGHTS: tenantWeightsVar({
    default: '',
    doc: 'Shares of the fair order within a lane, `tenant:weight,…` (e.g. `a:3,b:1`); unlisted tenants weigh 1.',
  }),
  TENANT_MAX_RUNNING: intVar({
    default: '0',
    min: 0,
    max: 1_000_000,
    doc: "A tenant's edits handed to workers at once, across the fleet; 0 = no cap.",
  }),
  TENANT_MAX_QUEUED: intVar({
    default: '0',
    min: 0,
    max: 10_000_000,
    doc: "A tenant's queued edits above which its submits answer 429 `queue_full`; 0 = no cap (QUEUE_MAX_DEPTH still holds).",
  }),
  EDIT_READY_PER_LANE: intVar({
    default: '1',
    min: 1,
    max: 1000,
    doc: 'Edits per lane kept in BullMQ ready for the next free worker slot; a new tenant waits behind at most these.',
  }),
  ORT_EXECUTION_PROVIDERS: enumListVar(['cuda', 'webgpu', 'cpu'] as const, {
    default: 'cpu',
    doc: 'ONNX Runtime execution providers for the worker, in order of preference (e.g. `cuda,cpu` on a GPU node).',
  }),
  ORT_INTRA_OP_THREADS: intVar({
    default: '0',
    min: 0,
    max: 256,
    doc: 'Threads inside one ONNX Runtime op; 0 lets the runtime choose.',
  }),
  ORT_CPU_MEM_ARENA: boolVar({
    default: 'true',
    doc:
      "ONNX Runtime's CPU memory arena (ONNX Runtime's default). On, runs are fast but the arena keeps the largest " +
      "buffers of any edit for the process's life (RSS stays at the high-water mark of the largest size level); off, " +
      'buffers go back after each run at 2–4× the CPU time for models that run on the CPU (tiny models, size levels ' +
      '512–1024). GPU providers keep their own arena.',
  }),
  ORT_MEM_PATTERN: boolVar({
    default: 'false',
    doc:
      'ONNX Runtime memory patterns: plan one allocation per run from the shapes seen before. Only pays off when ' +
      'every run has the same shapes; edits change shape with the image size.',
  }),
  WORKER_HEALTH_PORT: intVar({
    default: '0',
    min: 0,
    max: 65535,
    doc:
      'Worker only: port of its health server (`/healthz` alive, `/readyz` models warm and Redis reachable, ' +
      '`/metrics`), bound on HOST. 0: no health server.',
  }),
  MODEL_VERSION: stringVar({
    default: undefined,
    pattern: /^[A-Za-z0-9._+-]{1,80}$/,
    patternDoc: '[A-Za-z0-9._+-]{1,80}',
    doc:
      'API: the models version edits must run on (a worker logs its own at start: `models version …`). Jobs carry ' +
      'it; a worker with other models leaves them queued for one that has them. Unset: any worker runs any edit.',
  }),
  MODELS_DIR: stringVar({
    default: undefined,
    doc:
      'Directory of the ONNX models the worker loads (`step1x models build`). Required outside local mode; in ' +
      'local mode (no REDIS_URL) unset means tiny models with random weights, built once and cached.',
  }),
  ALLOW_RANDOM_WEIGHTS: boolVar({
    default: 'false',
    doc:
      'Let a worker outside local mode serve models whose weights are random (tests, demos). Every edit they make ' +
      'says `output.random_weights: true`.',
  }),

  // --- webhooks ---
  WEBHOOK_RETRY_SCHEDULE: durationListVar({
    default: '0,5s,5m,30m,2h,5h,10h,10h',
    doc: 'Delay before each delivery attempt (the first is usually 0); its length is the attempt count.',
  }),
  WEBHOOK_RETRY_JITTER: numberVar({ default: '0.2', min: 0, max: 1, doc: 'Random ± fraction applied to each delay.' }),
  WEBHOOK_TIMEOUT_MS: intVar({ default: '15000', min: 100, max: 120_000, doc: 'A 2xx must arrive within this.' }),
  WEBHOOK_PROGRESS_MIN_INTERVAL_MS: intVar({
    default: '1000',
    min: 0,
    max: 3_600_000,
    doc: 'At most one `edit.progress` per edit per interval.',
  }),
  WEBHOOK_SECRET_OVERLAP_S: intVar({
    default: '86400',
    min: 0,
    max: 30 * 86_400,
    doc: 'After POST /v1/webhooks/secret/rotate, deliveries are signed with the new and the old secret this long.',
  }),

  // --- rate limits (per API key, in Redis, shared by every API replica; 0 turns a limit off) ---
  RATE_LIMIT_RPS: intVar({
    default: '1000',
    min: 0,
    max: 1_000_000,
    doc: 'Requests per second per API key over all `/v1` routes (1 s fixed windows); 0 = no limit.',
  }),
  RATE_LIMIT_BURST: intVar({
    default: '2000',
    min: 0,
    max: 1_000_000,
    doc: 'Extra requests per 10 s a key may make once its per-second budget is spent.',
  }),
  RATE_LIMIT_EDITS_PER_MIN: intVar({
    default: '6000',
    min: 0,
    max: 10_000_000,
    doc: 'Edits per minute per API key (a batch item counts as one); 0 = no limit.',
  }),
  MAX_BATCH_BODY_BYTES: intVar({
    default: String(4 * MB),
    min: 1024,
    max: 64 * MB,
    doc: 'Body limit of POST /v1/batches only (413); every other JSON route keeps MAX_JSON_BODY_BYTES.',
  }),
  BATCH_MAX_ITEMS: intVar({
    default: '1000',
    min: 1,
    max: 100_000,
    doc: 'Most items in one batch (400 `out_of_range`).',
  }),

  // --- live events (docs/ARCHITECTURE.md "Live events and previews") ---
  EDIT_EVENTS_TTL_S: intVar({
    default: '3600',
    min: 600,
    max: 30 * 86_400,
    doc: "How long an edit's event stream (SSE replay and `Last-Event-ID` resumption) is kept after its last event.",
  }),
  EDIT_EVENTS_MAX_LEN: intVar({
    default: '1000',
    min: 10,
    max: 100_000,
    doc: 'Events kept per edit (approximate cap of its Redis stream; the oldest go first).',
  }),
  SSE_HEARTBEAT_MS: intVar({
    default: '15000',
    min: 100,
    max: 300_000,
    doc: 'Interval of the comment line that keeps an idle `GET /v1/edits/{id}/events` stream open through proxies.',
  }),

  // --- OpenAI-compatible routes (POST /v1/images/edits, GET /v1/models) ---
  OPENAI_SYNC_TIMEOUT_S: intVar({
    default: '300',
    min: 1,
    max: 3600,
    doc:
      "Longest POST /v1/images/edits holds for its edits to finish (it is synchronous like OpenAI's); past it the " +
      'answer is 504 naming the edit ids, and the edits go on (GET /v1/edits/{id}).',
  }),
  OPENAI_MODEL_ID: stringVar({
    default: 'step1x-edit-v1.1',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/,
    patternDoc: '[A-Za-z0-9._:-]{1,100}',
    doc:
      'Model id the OpenAI-compatible routes list at GET /v1/models and accept as `model` (another id is 404 ' +
      '`model_not_found`); name the model the workers serve.',
  }),
} satisfies Record<string, EnvVar<unknown, string | undefined>>;

export type EnvSchema = typeof ENV_SCHEMA;
export type EnvName = keyof EnvSchema;

/** The parsed value of each variable; optional ones are null when unset. */
export type ParsedEnv = {
  [K in EnvName]: EnvSchema[K] extends EnvVar<infer T, string | undefined>
    ? EnvSchema[K]['default'] extends string
      ? T
      : T | null
    : never;
};
