import type { RedisClient } from './redis-connection';
import type { EditFailure, EditProgress, EditRecord, StoredEditOutput } from '@step1x/contracts';
import {
  decodeEditRecord,
  encodeEditPatch,
  encodeEditRecord,
  listMember,
  parseListMember,
  type EditHash,
} from './edit-record.codec';
import { RedisKeys } from './redis-keys';
import type { EditPage, EditRepository, EditTransition, ListEditsOptions, TransitionResult } from './store.ports';

/**
 * Compare-and-set on the edit's status, so a cancel and a worker's start can race safely. A transition into a
 * terminal status also leaves the active-edit index in the same script, so index and record never disagree. A
 * status change of a batch item moves the batch's counts in the same script (one down, one up), and the change
 * that makes the last item terminal puts the batch on the to-finalize set; a terminal change adds to the tenant's
 * usage of the day. So a transition and its counts can never disagree, whatever process dies when
 * (docs/ARCHITECTURE.md "Batches", "Usage").
 * KEYS[1] edit hash, KEYS[2] active-edit zset, KEYS[3] batch hash (KEYS[1] when none), KEYS[4] to-finalize zset,
 * KEYS[5] usage-day hash (KEYS[1] when none).
 * ARGV[1] JSON `{ from: status[], set: [field, value, …], setIfNull: [field, value, …] }`, ARGV[2] edit id,
 * ARGV[3] batch id or '', ARGV[4] usage JSON `{ worker_seconds, output_megapixels }` or '', ARGV[5] now (ms),
 * ARGV[6] TTL of the to-finalize set (s), ARGV[7] TTL of the usage key (s).
 * Returns `{ applied (0|1), HGETALL }`; an absent key returns `{ 0 }`.
 */
const TRANSITION_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0} end
local opts = cjson.decode(ARGV[1])
local allowed = false
for _, status in ipairs(opts.from) do
  if status == current then allowed = true end
end
if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end
for i = 1, #opts.setIfNull, 2 do
  local value = redis.call('HGET', KEYS[1], opts.setIfNull[i])
  if (not value) or value == 'null' then redis.call('HSET', KEYS[1], opts.setIfNull[i], opts.setIfNull[i + 1]) end
end
if #opts.set > 0 then redis.call('HSET', KEYS[1], unpack(opts.set)) end
local status = redis.call('HGET', KEYS[1], 'status')
local function terminal(s) return s == 'succeeded' or s == 'failed' or s == 'canceled' end
if terminal(status) then redis.call('ZREM', KEYS[2], ARGV[2]) end
if status ~= current then
  if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('HINCRBY', KEYS[3], current, -1)
    redis.call('HINCRBY', KEYS[3], status, 1)
    if terminal(status) then
      local c = redis.call('HMGET', KEYS[3], 'total', 'succeeded', 'failed', 'canceled', 'status')
      local done = tonumber(c[2] or '0') + tonumber(c[3] or '0') + tonumber(c[4] or '0')
      if done >= tonumber(c[1] or '0') and c[5] ~= 'completed' and c[5] ~= 'canceled' then
        redis.call('ZADD', KEYS[4], 'NX', ARGV[5], ARGV[3])
        redis.call('EXPIRE', KEYS[4], ARGV[6])
      end
    end
  end
  if terminal(status) and not terminal(current) and ARGV[4] ~= '' then
    local usage = cjson.decode(ARGV[4])
    redis.call('HINCRBY', KEYS[5], status, 1)
    redis.call('HINCRBYFLOAT', KEYS[5], 'worker_seconds', tostring(usage.worker_seconds))
    redis.call('HINCRBYFLOAT', KEYS[5], 'output_megapixels', tostring(usage.output_megapixels))
    redis.call('EXPIRE', KEYS[5], ARGV[7])
  end
end
return {1, redis.call('HGETALL', KEYS[1])}
`;

/** Usage counters outlive edit records: a tenant asks for last year's usage (GET /v1/usage, 366 days). */
export const USAGE_RETENTION_S = 400 * 86_400;

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export interface RedisEditRepositoryOptions {
  /** TTL of records, list index and delivery logs (EDIT_RETENTION_DAYS). */
  retentionDays: number;
  /** Index entries scanned at most per list call when a status filter skips many. @defaultValue 1000 */
  maxScanPerList?: number;
}

function pairsToHash(pairs: unknown): EditHash {
  const flat = Array.isArray(pairs) ? (pairs as string[]) : [];
  const hash: EditHash = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
  return hash;
}

function flatten(hash: EditHash): string[] {
  return Object.entries(hash).flat();
}

/** `EditRepository` on Redis hashes plus a per-tenant keyset index (see RedisKeys for the layout). */
export class RedisEditRepository implements EditRepository {
  private readonly retentionS: number;
  private readonly maxScan: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: RedisEditRepositoryOptions,
  ) {
    this.retentionS = Math.round(options.retentionDays * 86_400);
    this.maxScan = options.maxScanPerList ?? 1000;
  }

  async create(record: EditRecord): Promise<void> {
    const createdAtMs = Date.parse(record.createdAt);
    if (!Number.isFinite(createdAtMs)) throw new RangeError(`createdAt "${record.createdAt}" is not a time`);
    const editKey = this.keys.edit(record.id);
    const indexKey = this.keys.tenantEdits(record.tenantId);
    const activeKey = this.keys.activeEdits();
    const cutoff = listMember({ createdAtMs: Math.max(0, createdAtMs - this.retentionS * 1000), id: '' });
    const result = await this.redis
      .multi()
      .hset(editKey, encodeEditRecord(record))
      .expire(editKey, this.retentionS)
      .zadd(indexKey, 0, listMember({ createdAtMs, id: record.id }))
      .expire(indexKey, this.retentionS)
      // Entries older than the retention point at expired records: trim them as we go.
      .zremrangebylex(indexKey, '-', `(${cutoff}`)
      .zadd(activeKey, createdAtMs, record.id)
      .expire(activeKey, this.retentionS)
      .exec();
    const failed = result?.find(([error]) => error);
    if (!result || failed) throw failed?.[0] ?? new Error('Redis MULTI for create was discarded');
  }

  async get(editId: string): Promise<EditRecord | null> {
    return decodeEditRecord(editId, await this.redis.hgetall(this.keys.edit(editId)));
  }

  async getForTenant(tenantId: string, editId: string): Promise<EditRecord | null> {
    const record = await this.get(editId);
    return record && record.tenantId === tenantId ? record : null;
  }

  list(tenantId: string, options: ListEditsOptions): Promise<EditPage> {
    return this.listIndex(this.keys.tenantEdits(tenantId), tenantId, options);
  }

  /** Keyset page over any `<created_ms>:<edit id>` index (a tenant's edits, a batch's edits), newest first. */
  async listIndex(indexKey: string, tenantId: string, options: ListEditsOptions): Promise<EditPage> {
    const wanted = new Set(options.statuses);
    const batchSize = Math.min(Math.max(options.limit + 1, 50), 200);
    const records: EditRecord[] = [];
    const stale: string[] = [];
    let start = options.after ? `(${listMember(options.after)}` : '+';
    let scanned = 0;
    let lastScanned: string | null = null;
    let exhausted = false;
    while (records.length <= options.limit && scanned < this.maxScan) {
      const members = await this.redis.zrevrangebylex(indexKey, start, '-', 'LIMIT', 0, batchSize);
      if (members.length === 0) {
        exhausted = true;
        break;
      }
      const pipeline = this.redis.pipeline();
      for (const member of members) pipeline.hgetall(this.keys.edit(parseListMember(member).id));
      const hashes = (await pipeline.exec()) ?? [];
      for (let i = 0; i < members.length && records.length <= options.limit; i++) {
        const [error, hash] = hashes[i] ?? [new Error('missing pipeline reply'), null];
        if (error) throw error;
        scanned++;
        lastScanned = members[i];
        const record = decodeEditRecord(parseListMember(members[i]).id, hash as EditHash);
        if (!record || record.tenantId !== tenantId) stale.push(members[i]);
        else if (wanted.size === 0 || wanted.has(record.status)) records.push(record);
      }
      start = `(${lastScanned}`;
      if (members.length < batchSize && lastScanned === members[members.length - 1]) exhausted = true;
      if (exhausted) break;
    }
    if (stale.length > 0) await this.redis.zrem(indexKey, ...stale);
    if (records.length > options.limit) {
      const page = records.slice(0, options.limit);
      const last = page[page.length - 1];
      return { records: page, next: { createdAtMs: Date.parse(last.createdAt), id: last.id } };
    }
    // Fewer than a page: either the index is exhausted, or the scan budget ran out and the client continues later.
    return { records, next: exhausted || lastScanned === null ? null : parseListMember(lastScanned) };
  }

  async transition(editId: string, transition: EditTransition): Promise<TransitionResult> {
    const options = JSON.stringify({
      from: transition.from,
      set: flatten(encodeEditPatch(transition.set)),
      setIfNull: flatten(encodeEditPatch(transition.setIfNull ?? {})),
    });
    const editKey = this.keys.edit(editId);
    let batchId = '';
    let usageKey = editKey;
    let usage = '';
    const next = transition.set.status;
    if (next !== undefined) {
      // Tenant and batch never change after creation, so reading them before the script races with nothing.
      const [tenant, batch] = await this.redis.hmget(editKey, 'tenant', 'batch_id');
      batchId = batch ?? '';
      if (tenant && TERMINAL.has(next)) {
        const day = (transition.set.completedAt ?? new Date().toISOString()).slice(0, 10);
        usageKey = this.keys.usageDay(tenant, day);
        const output = transition.set.output;
        usage = JSON.stringify({
          worker_seconds: transition.set.compute?.worker_seconds ?? 0,
          output_megapixels: output ? (output.width * output.height) / 1e6 : 0,
        });
      }
    }
    const reply = (await this.redis.eval(
      TRANSITION_SCRIPT,
      5,
      editKey,
      this.keys.activeEdits(),
      batchId ? this.keys.batch(batchId) : editKey,
      this.keys.batchesToFinalize(),
      usageKey,
      options,
      editId,
      batchId,
      usage,
      String(Date.now()),
      String(this.retentionS),
      String(USAGE_RETENTION_S),
    )) as [number, unknown?];
    const record = reply.length > 1 ? decodeEditRecord(editId, pairsToHash(reply[1])) : null;
    if (reply[0] === 1 && record) return { applied: true, record };
    return { applied: false, record };
  }

  markRunning(editId: string, attempt: number, at: Date): Promise<TransitionResult> {
    return this.transition(editId, {
      from: ['queued', 'running'],
      set: { status: 'running', attempts: attempt },
      setIfNull: { startedAt: at.toISOString() },
    });
  }

  updateProgress(editId: string, progress: EditProgress): Promise<TransitionResult> {
    return this.transition(editId, { from: ['running'], set: { progress } });
  }

  markSucceeded(editId: string, output: StoredEditOutput, at: Date): Promise<TransitionResult> {
    return this.transition(editId, {
      from: ['running'],
      set: { status: 'succeeded', output, completedAt: at.toISOString(), error: null },
    });
  }

  markFailed(editId: string, error: EditFailure, at: Date): Promise<TransitionResult> {
    return this.transition(editId, {
      from: ['queued', 'running'],
      set: { status: 'failed', error, completedAt: at.toISOString() },
    });
  }

  markCanceled(editId: string, at: Date): Promise<TransitionResult> {
    return this.transition(editId, {
      from: ['queued', 'running'],
      set: { status: 'canceled', completedAt: at.toISOString() },
    });
  }

  cancelQueued(editId: string, at: Date): Promise<TransitionResult> {
    return this.transition(editId, {
      from: ['queued'],
      set: { status: 'canceled', completedAt: at.toISOString() },
    });
  }

  async activeEditIds(createdBefore: Date, limit: number): Promise<string[]> {
    const activeKey = this.keys.activeEdits();
    const ids = await this.redis.zrangebyscore(activeKey, '-inf', createdBefore.getTime(), 'LIMIT', 0, limit);
    if (ids.length === 0) return ids;
    // Records expire on their own; an index entry whose record is gone is dropped here.
    const exists = await Promise.all(ids.map((id) => this.redis.exists(this.keys.edit(id))));
    const gone = ids.filter((_, i) => exists[i] === 0);
    if (gone.length > 0) await this.redis.zrem(activeKey, ...gone);
    return ids.filter((_, i) => exists[i] === 1);
  }

  requestCancel(editId: string): Promise<TransitionResult> {
    return this.transition(editId, { from: ['queued', 'running'], set: { cancelRequested: true } });
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
