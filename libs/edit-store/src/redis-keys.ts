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
