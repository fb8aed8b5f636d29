import type {
  BatchRecord,
  CompletedWebhookMessage,
  DeliverySubject,
  EditCompute,
  EditFailure,
  EditProgress,
  EditRecord,
  EditStatus,
  EditTimings,
  StoredEditOutput,
  UsageDay,
} from '@step1x/contracts';

/** A position in a tenant's edit list: newest first, ordered by (created_at, id). */
export interface EditListPosition {
  createdAtMs: number;
  id: string;
}

export interface ListEditsOptions {
  /** Empty means every status. */
  statuses: readonly EditStatus[];
  limit: number;
  /** Start strictly after this position; null for the first page. */
  after: EditListPosition | null;
}

export interface EditPage {
  records: EditRecord[];
  /** Where the next page starts; null when there is none. */
  next: EditListPosition | null;
}

/** Mutable fields of an edit record; everything else is fixed at creation. */
export interface EditPatch {
  status?: EditStatus;
  startedAt?: string | null;
  completedAt?: string | null;
  progress?: EditProgress;
  attempts?: number;
  cancelRequested?: boolean;
  output?: StoredEditOutput | null;
  error?: EditFailure | null;
  truncated?: boolean | null;
  /** The worker's receipt, written with the terminal status (CONTRACT.md "The edit object"). */
  timings?: EditTimings | null;
  compute?: EditCompute | null;
  /** The decoded input's size, for a batch item whose image was not decoded at submit. */
  inputSize?: { width: number; height: number } | null;
}

export interface EditTransition {
  /** Applied only while the current status is one of these (compare-and-set in one Redis script). */
  from: readonly EditStatus[];
  set: EditPatch;
  /** Written only where the field is still null, e.g. `startedAt` when a stalled edit runs again. */
  setIfNull?: Pick<EditPatch, 'startedAt'>;
}

export type TransitionResult =
  | { applied: true; record: EditRecord }
  /** `record` is the current state (null when the edit does not exist). */
  | { applied: false; record: EditRecord | null };

/** The store of record for edits. */
export interface EditRepository {
  /** Stores a new record and indexes it for its tenant's list. */
  create(record: EditRecord): Promise<void>;
  get(editId: string): Promise<EditRecord | null>;
  /** The record only if it belongs to `tenantId`: another tenant's edit reads as absent. */
  getForTenant(tenantId: string, editId: string): Promise<EditRecord | null>;
  list(tenantId: string, options: ListEditsOptions): Promise<EditPage>;
  transition(editId: string, transition: EditTransition): Promise<TransitionResult>;
  /** queued|running → running; records the attempt and the first start time. */
  markRunning(editId: string, attempt: number, at: Date): Promise<TransitionResult>;
  /** running → running with new progress. */
  updateProgress(editId: string, progress: EditProgress): Promise<TransitionResult>;
  /** running → succeeded. */
  markSucceeded(editId: string, output: StoredEditOutput, at: Date): Promise<TransitionResult>;
  /** queued|running → failed. */
  markFailed(editId: string, error: EditFailure, at: Date): Promise<TransitionResult>;
  /** queued|running → canceled. */
  markCanceled(editId: string, at: Date): Promise<TransitionResult>;
  /**
   * queued → canceled, one compare-and-set: the whole of a queued edit's cancel as far as the record goes. The
   * queued job is removed afterwards, best effort: a worker that takes a canceled edit's job skips it, and the
   * start-up reconciliation removes what is left.
   */
  cancelQueued(editId: string, at: Date): Promise<TransitionResult>;
  /**
   * Ids of edits not yet terminal that were created before `createdBefore`, oldest first, at most `limit`
   * (records that expired are dropped from the index on the way).
   */
  activeEditIds(createdBefore: Date, limit: number): Promise<string[]>;
  /** queued|running: sets `cancel_requested`; the status does not change. */
  requestCancel(editId: string): Promise<TransitionResult>;
  ping(): Promise<void>;
}

export type IdempotencyBegin =
  /**
   * This request owns the key now; pass `token` to `complete`/`abandon`. `editId` is the id reserved for the key:
   * the edit must be created under it. `resumed`: an earlier owner's lease ran out before it answered (its process
   * died mid-acceptance), so the edit may already exist, created by that owner.
   */
  | { state: 'started'; token: string; editId: string; resumed: boolean }
  /** Another request holds the key; its lease ends in `retryAfterMs`. */
  | { state: 'in_progress'; retryAfterMs: number }
  | { state: 'done'; requestHash: string; editId: string; statusCode: number };

/**
 * Idempotency-Key records (CONTRACT.md): an in-progress marker that reserves the edit id under a short lease, then
 * the first answer. A lease that runs out (the accepting process died) passes the key, with the same edit id, to
 * the next request, so a retry after a crash neither waits for the key's TTL nor creates a second edit.
 */
export interface IdempotencyStore {
  begin(tenantId: string, idempotencyKey: string, proposedEditId: string): Promise<IdempotencyBegin>;
  /** Records the answer; may be called again by the owner (e.g. 202 → 200 after `Prefer: wait`). */
  complete(
    tenantId: string,
    idempotencyKey: string,
    token: string,
    answer: { requestHash: string; editId: string; statusCode: number },
  ): Promise<void>;
  /** Releases the key after a failed acceptance, so the client may retry with it. */
  abandon(tenantId: string, idempotencyKey: string, token: string): Promise<void>;
}

export interface ApiKeySeed {
  tenantId: string;
  key: string;
}

export interface ApiKeyStore {
  /** Stores each key's sha256 → tenant (the key itself is never stored). */
  seed(seeds: readonly ApiKeySeed[]): Promise<void>;
  tenantForKey(apiKey: string): Promise<string | null>;
}

export interface WebhookSecretStore {
  /** The tenant's `whsec_…` secret, created with `create()` on first use (races resolve to one winner). */
  getOrCreate(tenantId: string, create: () => string): Promise<string>;
  get(tenantId: string): Promise<string | null>;
  /**
   * Makes `next` the secret and keeps the one it replaces for `overlapS` seconds, in one step (a second rotation
   * within the overlap drops the oldest). `previousExpiresAt` is null when there was no secret to keep.
   */
  rotate(tenantId: string, next: string, overlapS: number): Promise<{ secret: string; previousExpiresAt: Date | null }>;
  /** Every secret a delivery is signed with now: the current one first, then the rotated-out one in its overlap. */
  signingSecrets(tenantId: string, create: () => string): Promise<string[]>;
}

/**
 * One delivery attempt of one webhook event (every attempt is recorded, CONTRACT.md Webhooks). The fields after
 * `type` are those of `@step1x/webhooks`' `DeliveryAttempt`, so the worker stores `{ message_id, type, ...record }`.
 */
export interface DeliveryLogEntry {
  message_id: string;
  type: string;
  /** 1-based. */
  attempt: number;
  at: string;
  status: number | null;
  duration_ms: number;
  error: { code: string; message: string } | null;
  next_retry_at: string | null;
}

/** The attempts of an edit's or a batch's webhooks, oldest first (`RedisKeys.deliveries`). */
export interface DeliveryLog {
  record(subject: DeliverySubject, entry: DeliveryLogEntry): Promise<void>;
  list(subject: DeliverySubject): Promise<DeliveryLogEntry[]>;
}

/** `webhook.status` of the edit object (CONTRACT.md "The edit object"). */
export type WebhookDeliveryStatus = 'none' | 'pending' | 'delivered' | 'failed';

/**
 * The delivery worker's view of an edit's webhooks, kept in the edit's own hash (so GET reads it with the record):
 * the status and attempt count shown as `webhook`, and the last `edit.completed` message, which a replay sends again.
 */
export interface WebhookStateStore {
  /** Counts one attempt and sets the status; a no-op when the edit record is gone. */
  recordAttempt(editId: string, status: Exclude<WebhookDeliveryStatus, 'none'>): Promise<void>;
  /** Remembers the `edit.completed` message (id, event time, last attempt number) for replays. */
  rememberCompleted(editId: string, message: CompletedWebhookMessage): Promise<void>;
  /** Status → pending before a replay is queued; returns the message to replay, or null when none was sent yet. */
  beginReplay(editId: string): Promise<CompletedWebhookMessage | null>;
}

export interface UploadRecord {
  tenantId: string;
  contentType: string;
  size: number;
  expiresAt: string;
}

/** Presigned uploads, so the declared size and owner can be checked when an edit uses the key. */
export interface UploadStore {
  remember(imageKey: string, upload: UploadRecord): Promise<void>;
  find(imageKey: string): Promise<UploadRecord | null>;
}

/** A result of `RateLimiter.consume`: the window's budget after this call. */
export interface RateLimitWindow {
  allowed: boolean;
  /** Points per window. */
  limit: number;
  remaining: number;
  /** Until the window resets (or, when refused, until the points needed are free). */
  resetMs: number;
}

/** Fixed-window counters shared by every API replica (rate-limiter-flexible on Redis, `redis-rate-limiter.ts`). */
export interface RateLimiter {
  /** One request of the key against the per-second limit, then against the burst pool once that is spent. */
  consumeRequest(keyId: string): Promise<RateLimitWindow>;
  /** `count` created edits of the key against the per-minute limit; nothing is counted when refused for size. */
  consumeEdits(keyId: string, count: number): Promise<RateLimitWindow>;
  /** Gives back `count` edits counted for a request that then created none (it was refused). */
  refundEdits(keyId: string, count: number): Promise<RateLimitWindow>;
}

/**
 * The store of record for batches (docs/ARCHITECTURE.md "Batches"): the batch and its items are written together;
 * counts move inside the edits' own transition script, so this port only reads them.
 */
export interface BatchRepository {
  /** The batch, its index entries and every item's edit record, all or nothing. */
  create(batch: BatchRecord, items: readonly EditRecord[]): Promise<void>;
  get(batchId: string): Promise<BatchRecord | null>;
  /** Another tenant's batch reads as absent. */
  getForTenant(tenantId: string, batchId: string): Promise<BatchRecord | null>;
  /** Edit ids in input order. */
  itemIds(batchId: string): Promise<string[]>;
  /** The tenant's batches, newest first, keyset over (created_at, id). */
  list(tenantId: string, limit: number, after: EditListPosition | null): Promise<BatchListPage>;
  /** A batch's edits, newest first, with the paging and status filter of a tenant's edit list. */
  listEdits(batchId: string, tenantId: string, options: ListEditsOptions): Promise<EditPage>;
  /** Sets `cancel_requested`; false when the batch is finalized or gone. */
  requestCancel(batchId: string): Promise<boolean>;
  /** running/queued → `status` (compare-and-set): true for the one caller that finalized it. */
  markFinalized(batchId: string, status: 'completed' | 'canceled', at: Date, resultsKey: string): Promise<boolean>;
  /** Batches whose items are all terminal and that await their results file (oldest first). */
  toFinalize(limit: number): Promise<string[]>;
  /** Leaves the to-finalize set (after the results and `batch.completed` are done). */
  finalized(batchId: string): Promise<void>;
  /** True at most once per `intervalMs` per batch, across every process. */
  takeProgressSlot(batchId: string, intervalMs: number): Promise<boolean>;
  /** Per-day usage of one tenant, every day from `from` to `to` (UTC dates), zeros where nothing happened. */
  usage(tenantId: string, from: string, to: string): Promise<UsageDay[]>;
}

export interface BatchListPage {
  records: BatchRecord[];
  next: EditListPosition | null;
}
