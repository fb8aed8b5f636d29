import { createHash } from 'node:crypto';

/**
 * Every Redis key and channel we own, in one place (docs/ARCHITECTURE.md "Redis key layout" copies this table).
 * All keys start with the configured prefix (`REDIS_KEY_PREFIX`, default `s1x`) written as a Redis Cluster hash
 * tag, `{s1x}:…`, and all of them carry a TTL. The tag puts every key of ours (BullMQ's included) in one slot, so
 * the multi-key scripts, MULTIs and pipelines of edit-store and job-queue are legal on a cluster, and a single node
 * and a cluster hold the same key names (docs/DEPLOY.md "Redis Cluster": the price is that one master holds them).
 */
export class RedisKeys {
  /** `{name}`: the head of every key and channel; Redis Cluster hashes only what is between the braces. */
  readonly prefix: string;

  /** @param name REDIS_KEY_PREFIX, without braces: the braces are added here, so no key can miss them. */
  constructor(readonly name: string) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new RangeError(`bad Redis key prefix "${name}"`);
    this.prefix = `{${name}}`;
  }

  /** HASH: the edit record (store of record). TTL: edit retention. */
  edit(editId: string): string {
    return `${this.prefix}:edit:${editId}`;
  }

  /** LIST of JSON webhook delivery attempts of one edit. TTL: edit retention. */
  editDeliveries(editId: string): string {
    return `${this.prefix}:edit:${editId}:deliveries`;
  }

  /** ZSET (all scores 0) of `<created_ms, 15 digits>:<edit id>` members: keyset index for listing. TTL: retention. */
  tenantEdits(tenantId: string): string {
    return `${this.prefix}:tenant:${tenantId}:edits`;
  }

  /** STRING `whsec_…`: the tenant's webhook signing secret. TTL: 365 days, refreshed on every read. */
  tenantWebhookSecret(tenantId: string): string {
    return `${this.prefix}:tenant:${tenantId}:webhook_secret`;
  }

  /**
   * ZSET of edit ids not yet terminal (score: created ms). Written with the record, left by the transition that
   * finishes it; the worker's start-up reconciliation walks it instead of scanning the keyspace. TTL: retention.
   */
  activeEdits(): string {
    return `${this.prefix}:edits:active`;
  }

  /** STRING JSON: one Idempotency-Key of one tenant (the key is hashed: it is client text). TTL: 24 h. */
  idempotency(tenantId: string, idempotencyKey: string): string {
    return `${this.prefix}:idem:${tenantId}:${sha256Hex(idempotencyKey)}`;
  }

  /** STRING tenant id, keyed by the sha256 of the API key; the key itself is never stored. TTL: 365 days. */
  apiKey(apiKeySha256: string): string {
    return `${this.prefix}:apikey:${apiKeySha256}`;
  }

  /** STRING JSON: a presigned upload (declared type and size), checked when an edit uses it. TTL: URL TTL + 1 day. */
  upload(imageKey: string): string {
    return `${this.prefix}:upload:${sha256Hex(imageKey)}`;
  }

  /** Pub/sub channel: cancel requests fanned out to every worker (`CancelEditMessage` JSON). */
  cancelChannel(): string {
    return `${this.prefix}:edit:cancel`;
  }

  /** STRING `whsec_…`: the secret a rotation replaced, still signing deliveries. TTL: WEBHOOK_SECRET_OVERLAP_S. */
  tenantPreviousWebhookSecret(tenantId: string): string {
    return `${this.prefix}:tenant:${tenantId}:webhook_secret_previous`;
  }

  /** LIST of JSON webhook delivery attempts of a batch's own events. TTL: edit retention. */
  batchDeliveries(batchId: string): string {
    return `${this.prefix}:batch:${batchId}:deliveries`;
  }

  /** The delivery log of an edit or a batch. */
  deliveries(subject: { kind: 'edit' | 'batch'; id: string }): string {
    return subject.kind === 'batch' ? this.batchDeliveries(subject.id) : this.editDeliveries(subject.id);
  }

  /**
   * Key prefix of one rate limit's counters (`rps`, `burst`, `edits`): rate-limiter-flexible appends
   * `:<sha256 of the API key>` and gives each counter its window as TTL (at most 60 s).
   */
  rateLimit(limit: 'rps' | 'burst' | 'edits'): string {
    return `${this.prefix}:ratelimit:${limit}`;
  }

  /**
   * Fair scheduling (docs/ARCHITECTURE.md "Fair scheduling across tenants"), one set per lane: ZSET edit id →
   * virtual start tag, the lane's edits not yet handed to BullMQ in their fair order. TTL: edit retention, refreshed.
   */
  fairQueue(lane: string): string {
    return `${this.prefix}:fair:${lane}:queue`;
  }

  /** ZSET tenant → virtual start tag of the tenant's next edit in the lane (tenants with edits waiting). */
  fairTenants(lane: string): string {
    return `${this.prefix}:fair:${lane}:tenants`;
  }

  /** ZSET edit id → virtual start tag: one tenant's waiting edits in the lane. `tenantId` '' gives the stem. */
  fairTenantQueue(lane: string, tenantId: string): string {
    return `${this.prefix}:fair:${lane}:tenant:${tenantId}`;
  }

  /** HASH `vtime` (the lane's virtual time) and `finish:<tenant>` (finish tag of the tenant's last queued edit). */
  fairClock(lane: string): string {
    return `${this.prefix}:fair:${lane}:clock`;
  }

  /** ZSET edit id → enqueue ms of the lane's waiting edits (oldest wait for the autoscaler). */
  fairSince(lane: string): string {
    return `${this.prefix}:fair:${lane}:since`;
  }

  /** ZSET edit id → ms: edits picked for BullMQ whose job add is not confirmed yet (repaired when stale). */
  fairHandoff(lane: string): string {
    return `${this.prefix}:fair:${lane}:handoff`;
  }

  /** HASH edit id → tenant: edits handed to BullMQ and not terminal; counted against TENANT_MAX_RUNNING. */
  fairInflight(): string {
    return `${this.prefix}:fair:inflight`;
  }

  /** HASH `<size_level>:<steps>` → JSON run-time average; the eta_s estimate of every API replica reads it. */
  editRunTimes(): string {
    return `${this.prefix}:fair:run_times`;
  }

  /** ZSET edit id → finish ms of recently finished edits: the fleet's measured throughput. TTL: 1 day. */
  editCompletions(): string {
    return `${this.prefix}:fair:completions`;
  }

  /**
   * HASH: a batch (status, tenant, created_at, completed_at, metadata, webhook, cancel_requested, results_key) and
   * its counts (`total`, `queued`, `running`, `succeeded`, `failed`, `canceled`), which the edit transition script
   * moves in the same step as each item's status. TTL: edit retention.
   */
  batch(batchId: string): string {
    return `${this.prefix}:batch:${batchId}`;
  }

  /** LIST of a batch's edit ids in input order (the results file's order). TTL: edit retention. */
  batchItems(batchId: string): string {
    return `${this.prefix}:batch:${batchId}:items`;
  }

  /** ZSET (scores 0) of `<created_ms>:<edit id>`: keyset index of a batch's edits, like `tenantEdits`. TTL: retention. */
  batchEdits(batchId: string): string {
    return `${this.prefix}:batch:${batchId}:edits`;
  }

  /** STRING set with NX and a 5 s expiry: the gate that lets one `batch.progress` through per 5 s. */
  batchProgressGate(batchId: string): string {
    return `${this.prefix}:batch:${batchId}:progress_gate`;
  }

  /** ZSET (scores 0) of `<created_ms>:<batch id>`: keyset index of a tenant's batches. TTL: retention. */
  tenantBatches(tenantId: string): string {
    return `${this.prefix}:tenant:${tenantId}:batches`;
  }

  /**
   * ZSET of batch ids whose last item is terminal but whose results are not written yet (score: when that
   * happened). Added by the transition script that finishes the last item, left once the batch is finalized and
   * its `batch.completed` queued, so a process dying in between leaves the batch here for the next one. TTL: retention.
   */
  batchesToFinalize(): string {
    return `${this.prefix}:batches:finalize`;
  }

  /**
   * HASH of one tenant's usage on one UTC day (`YYYY-MM-DD`): `succeeded`, `failed`, `canceled`, `worker_seconds`,
   * `output_megapixels`, incremented by the transition script that finishes an edit. TTL: 400 days.
   */
  usageDay(tenantId: string, date: string): string {
    return `${this.prefix}:usage:${tenantId}:${date}`;
  }

  /**
   * STREAM of one edit's events (`type`, `data` = the webhook body) for SSE replay and `Last-Event-ID` resumption.
   * Capped at EDIT_EVENTS_MAX_LEN entries. TTL: EDIT_EVENTS_TTL_S after the last event.
   */
  editEvents(editId: string): string {
    return `${this.prefix}:edit:${editId}:events`;
  }

  /** Pub/sub channel: the id of an edit whose event stream just grew (a wake-up for followers; the stream is the data). */
  editEventsChannel(): string {
    return `${this.prefix}:edit:events`;
  }

  /**
   * BullMQ's own prefix: its keys are `{name}:bull:<queue>:…` (BullMQ manages their lifetimes). On a cluster BullMQ
   * needs the hash tag in its prefix: its scripts touch several keys of one queue at once.
   */
  bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
}

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash under which an API key is stored and looked up. */
export function hashApiKey(apiKey: string): string {
  return sha256Hex(apiKey);
}
