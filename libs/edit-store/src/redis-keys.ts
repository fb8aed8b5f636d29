import { createHash } from 'node:crypto';

/**
 * Every Redis key and channel we own, in one place (docs/ARCHITECTURE.md "Redis key layout" copies this table).
 * All keys start with the configured prefix (`REDIS_KEY_PREFIX`, default `s1x`) and all of them carry a TTL.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new RangeError(`bad Redis key prefix "${prefix}"`);
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

  /** BullMQ's own prefix: its keys are `<prefix>:bull:<queue>:…` (BullMQ manages their lifetimes). */
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
