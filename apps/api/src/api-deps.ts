import type {
  ApiKeyStore,
  DeliveryLog,
  BatchRepository,
  EditEventLog,
  EditEventStream,
  EditRepository,
  RateLimiter,
  WebhookStateStore,
  IdempotencyStore,
  UploadStore,
  WebhookSecretStore,
} from '@step1x/edit-store';
import type { CancelBus, JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';

/** Downloads an `image_url` through the egress guard. Throws `ApiError` (422/413) for a bad URL or answer. */
export interface ImageFetcher {
  fetch(url: string): Promise<{ bytes: Buffer; contentType: string | null }>;
}

/** Refuses a `webhook_url` whose host is not allowed, before the edit is accepted. Throws `ApiError` 422. */
export interface UrlChecker {
  check(url: string): Promise<void>;
}

/** Decodes and checks an input image. Throws `ApiError` 422 (`invalid_image`, `image_too_large`, …). */
export interface ImageInspector {
  inspect(bytes: Uint8Array): Promise<{ width: number; height: number }>;
}

/** An extra readiness condition, e.g. "the embedded worker has its models warm". */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Everything the API talks to, as ports; `createApiDeps` builds the real adapters, tests may swap any. */
export interface ApiDeps {
  edits: EditRepository;
  /** Batches, their counts and the usage counters (docs/ARCHITECTURE.md "Batches"). */
  batches: BatchRepository;
  idempotency: IdempotencyStore;
  apiKeys: ApiKeyStore;
  webhookSecrets: WebhookSecretStore;
  uploads: UploadStore;
  jobQueue: JobQueue;
  cancelBus: Pick<CancelBus, 'publish'>;
  objectStore: ObjectStore;
  imageFetcher: ImageFetcher;
  urlChecker: UrlChecker;
  imageInspector: ImageInspector;
  /** Per-API-key request and edit counters shared by every replica (RateLimits). */
  rateLimiter: RateLimiter;
  /** Webhook delivery attempts of edits and batches (GET …/deliveries). */
  deliveries: DeliveryLog;
  /** The last `edit.completed` message of an edit, for replays. */
  webhookState: WebhookStateStore;
  /** Checked by /readyz besides Redis and S3. @defaultValue [] */
  readiness?: ReadinessCheck[];
  /** S3 reachability for /readyz. @defaultValue a HEAD of a probe key */
  pingObjectStore?: () => Promise<void>;
  /** Per-edit event log (the API appends the `edit.completed` of a queued cancel). @defaultValue none */
  eventLog?: EditEventLog;
  /** Follows an edit's events (SSE; any route that streams an edit). @defaultValue none: the route answers 503 */
  eventStream?: EditEventStream;
}

export const DEPS = {
  edits: Symbol('EditRepository'),
  batches: Symbol('BatchRepository'),
  idempotency: Symbol('IdempotencyStore'),
  apiKeys: Symbol('ApiKeyStore'),
  webhookSecrets: Symbol('WebhookSecretStore'),
  uploads: Symbol('UploadStore'),
  jobQueue: Symbol('JobQueue'),
  cancelBus: Symbol('CancelBus'),
  objectStore: Symbol('ObjectStore'),
  imageFetcher: Symbol('ImageFetcher'),
  urlChecker: Symbol('UrlChecker'),
  imageInspector: Symbol('ImageInspector'),
  readiness: Symbol('ReadinessChecks'),
  pingObjectStore: Symbol('PingObjectStore'),
  rateLimiter: Symbol('RateLimiter'),
  deliveries: Symbol('DeliveryLog'),
  webhookState: Symbol('WebhookStateStore'),
  config: Symbol('AppConfig'),
  clock: Symbol('Clock'),
  eventLog: Symbol('EditEventLog'),
  eventStream: Symbol('EditEventStream'),
} as const;

/** Injected so tests can steer time; production uses `() => new Date()`. */
export type Clock = () => Date;
