import type { RedisClient } from './redis-connection';
import type { BatchCounts, BatchRecord, BatchStatus, EditRecord, UsageDay } from '@step1x/contracts';
import { encodeEditRecord, listMember, parseListMember } from './edit-record.codec';
import { RedisKeys } from './redis-keys';
import { RedisEditRepository } from './redis-edit-repository';
import type { BatchListPage, BatchRepository, EditListPosition, EditPage, ListEditsOptions } from './store.ports';

const COUNT_FIELDS = ['total', 'queued', 'running', 'succeeded', 'failed', 'canceled'] as const;

/**
 * Finalization is a compare-and-set on the batch's status: only the first finalizer writes `completed`/`canceled`,
 * so `batch.completed` is queued once however many processes finalize at once.
 * KEYS[1] batch hash. ARGV[1] status, ARGV[2] completed_at JSON, ARGV[3] results key. Returns 1 when applied.
 */
const FINALIZE_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'canceled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'completed_at', ARGV[2], 'results_key', ARGV[3])
return 1
`;

/** KEYS[1] batch hash. Sets `cancel_requested` unless finalized. Returns 1 when set (or already set), 0 otherwise. */
const REQUEST_CANCEL_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'canceled' then return 0 end
redis.call('HSET', KEYS[1], 'cancel_requested', '1')
return 1
`;

export type BatchHash = Record<string, string>;

export function encodeBatchRecord(record: BatchRecord): BatchHash {
  return {
    status: record.status,
    tenant: record.tenantId,
    created_at: record.createdAt,
    completed_at: JSON.stringify(record.completedAt),
    metadata: JSON.stringify(record.metadata),
    webhook: JSON.stringify(record.webhook),
    cancel_requested: record.cancelRequested ? '1' : '0',
    results_key: record.resultsKey ?? '',
    ...Object.fromEntries(COUNT_FIELDS.map((field) => [field, String(record.counts[field])])),
  };
}

export function decodeBatchRecord(batchId: string, hash: BatchHash): BatchRecord | null {
  if (!hash.status) return null;
  const counts = Object.fromEntries(
    COUNT_FIELDS.map((field) => [field, Number(hash[field] ?? '0')]),
  ) as unknown as BatchCounts;
  return {
    id: batchId,
    tenantId: hash.tenant ?? '',
    status: hash.status as BatchStatus,
    createdAt: hash.created_at ?? '',
    completedAt: JSON.parse(hash.completed_at ?? 'null') as string | null,
    counts,
    metadata: JSON.parse(hash.metadata ?? 'null') as Record<string, unknown> | null,
    cancelRequested: hash.cancel_requested === '1',
    resultsKey: hash.results_key ? hash.results_key : null,
    webhook: JSON.parse(hash.webhook ?? 'null') as BatchRecord['webhook'],
  };
}

/**
 * Batches in Redis (docs/ARCHITECTURE.md "Batches"): the batch hash with its counts, the input-order item list, a
 * keyset index of its edits and of the tenant's batches, the to-finalize set, and the per-tenant-day usage hashes.
 * The counts are moved by the edit transition script (redis-edit-repository.ts), never here.
 */
export class RedisBatchRepository implements BatchRepository {
  private readonly retentionS: number;
  private readonly edits: RedisEditRepository;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: { retentionDays: number },
  ) {
    this.retentionS = Math.round(options.retentionDays * 86_400);
    this.edits = new RedisEditRepository(redis, keys, options);
  }

  /** A batch's edits, newest first, with the same keyset paging and status filter as a tenant's edit list. */
  listEdits(batchId: string, tenantId: string, options: ListEditsOptions): Promise<EditPage> {
    return this.edits.listIndex(this.keys.batchEdits(batchId), tenantId, options);
  }

  /**
   * The batch, its index entries and every item's edit record in one MULTI: all of it exists or none of it does
   * (the jobs are queued afterwards; an item whose job never got queued is re-queued by the EditReconciler).
   */
  async create(batch: BatchRecord, items: readonly EditRecord[]): Promise<void> {
    const createdAtMs = Date.parse(batch.createdAt);
    const ttl = this.retentionS;
    const multi = this.redis.multi();
    const batchKey = this.keys.batch(batch.id);
    const itemsKey = this.keys.batchItems(batch.id);
    const indexKey = this.keys.batchEdits(batch.id);
    const tenantEdits = this.keys.tenantEdits(batch.tenantId);
    const tenantBatches = this.keys.tenantBatches(batch.tenantId);
    const activeKey = this.keys.activeEdits();
    multi.hset(batchKey, encodeBatchRecord(batch)).expire(batchKey, ttl);
    multi.rpush(itemsKey, ...items.map((item) => item.id)).expire(itemsKey, ttl);
    multi.zadd(tenantBatches, 0, listMember({ createdAtMs, id: batch.id })).expire(tenantBatches, ttl);
    const members: (string | number)[] = [];
    const active: (string | number)[] = [];
    for (const item of items) {
      const editKey = this.keys.edit(item.id);
      multi.hset(editKey, encodeEditRecord(item)).expire(editKey, ttl);
      members.push(0, listMember({ createdAtMs: Date.parse(item.createdAt), id: item.id }));
      active.push(Date.parse(item.createdAt), item.id);
    }
    multi.zadd(indexKey, ...members).expire(indexKey, ttl);
    multi.zadd(tenantEdits, ...members).expire(tenantEdits, ttl);
    multi.zadd(activeKey, ...active).expire(activeKey, ttl);
    const result = await multi.exec();
    const failed = result?.find(([error]) => error);
    if (!result || failed) throw failed?.[0] ?? new Error('Redis MULTI for the batch was discarded');
  }

  async get(batchId: string): Promise<BatchRecord | null> {
    return decodeBatchRecord(batchId, await this.redis.hgetall(this.keys.batch(batchId)));
  }

  /** Another tenant's batch reads as absent. */
  async getForTenant(tenantId: string, batchId: string): Promise<BatchRecord | null> {
    const record = await this.get(batchId);
    return record && record.tenantId === tenantId ? record : null;
  }

  /** Edit ids in input order. */
  itemIds(batchId: string): Promise<string[]> {
    return this.redis.lrange(this.keys.batchItems(batchId), 0, -1);
  }

  /** The tenant's batches, newest first, keyset over (created_at, id). */
  async list(tenantId: string, limit: number, after: EditListPosition | null): Promise<BatchListPage> {
    const indexKey = this.keys.tenantBatches(tenantId);
    const start = after ? `(${listMember(after)}` : '+';
    const members = await this.redis.zrevrangebylex(indexKey, start, '-', 'LIMIT', 0, limit + 1);
    const pipeline = this.redis.pipeline();
    for (const member of members) pipeline.hgetall(this.keys.batch(parseListMember(member).id));
    const hashes = (await pipeline.exec()) ?? [];
    const records: BatchRecord[] = [];
    const stale: string[] = [];
    members.forEach((member, i) => {
      const [error, hash] = hashes[i] ?? [null, {}];
      if (error) throw error;
      const record = decodeBatchRecord(parseListMember(member).id, hash as BatchHash);
      if (!record || record.tenantId !== tenantId) stale.push(member);
      else records.push(record);
    });
    if (stale.length > 0) await this.redis.zrem(indexKey, ...stale);
    if (members.length <= limit) return { records, next: null };
    const page = records.slice(0, limit);
    const last = page[page.length - 1];
    return { records: page, next: last ? { createdAtMs: Date.parse(last.createdAt), id: last.id } : null };
  }

  /** Sets `cancel_requested`; false when the batch is finalized or gone. */
  async requestCancel(batchId: string): Promise<boolean> {
    return (await this.redis.eval(REQUEST_CANCEL_SCRIPT, 1, this.keys.batch(batchId))) === 1;
  }

  /** running/queued → `status` (compare-and-set): true for the one caller that finalized it. */
  async markFinalized(
    batchId: string,
    status: 'completed' | 'canceled',
    at: Date,
    resultsKey: string,
  ): Promise<boolean> {
    const applied = await this.redis.eval(
      FINALIZE_SCRIPT,
      1,
      this.keys.batch(batchId),
      status,
      JSON.stringify(at.toISOString()),
      resultsKey,
    );
    return applied === 1;
  }

  /** Batches whose items are all terminal and that await their results file (oldest first). */
  toFinalize(limit: number): Promise<string[]> {
    return this.redis.zrange(this.keys.batchesToFinalize(), 0, limit - 1);
  }

  /** Leaves the to-finalize set (after the results and `batch.completed` are done). */
  async finalized(batchId: string): Promise<void> {
    await this.redis.zrem(this.keys.batchesToFinalize(), batchId);
  }

  /** True at most once per `intervalMs` per batch, across every process (SET NX PX). */
  async takeProgressSlot(batchId: string, intervalMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.batchProgressGate(batchId), '1', 'PX', intervalMs, 'NX')) === 'OK';
  }

  /** Per-day usage of one tenant, every day from `from` to `to` (UTC dates), zeros where nothing happened. */
  async usage(tenantId: string, from: string, to: string): Promise<UsageDay[]> {
    const days: string[] = [];
    for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
      days.push(new Date(t).toISOString().slice(0, 10));
    }
    const pipeline = this.redis.pipeline();
    for (const day of days) pipeline.hgetall(this.keys.usageDay(tenantId, day));
    const replies = (await pipeline.exec()) ?? [];
    return days.map((date, i) => {
      const [error, raw] = replies[i] ?? [null, {}];
      if (error) throw error;
      const hash = raw as Record<string, string>;
      const number = (field: string) => Number(hash[field] ?? '0');
      return {
        date,
        edits: { succeeded: number('succeeded'), failed: number('failed'), canceled: number('canceled') },
        worker_seconds: Math.round(number('worker_seconds') * 1000) / 1000,
        output_megapixels: Math.round(number('output_megapixels') * 1e6) / 1e6,
      };
    });
  }
}
