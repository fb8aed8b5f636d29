import type { RedisClient } from '@step1x/edit-store';
import type { RedisKeys } from '@step1x/edit-store';
import type { Lane } from './job-queue.port';
import { LANES } from './lanes';

/**
 * Fair order across tenants within each lane (docs/ARCHITECTURE.md "Fair scheduling across tenants"). BullMQ's
 * open-source queue has no groups, so edits wait in our own per-lane structures and a dispatcher hands the next
 * fair edit to BullMQ only when the lane holds fewer than `readyPerLane` jobs there. The order is start-time fair
 * queuing: an edit's tag is max(lane virtual time, finish tag of its tenant's previous edit), and each edit
 * advances its tenant's finish tag by COST_UNIT / weight; the dispatcher takes the lowest tag of a tenant below
 * TENANT_MAX_RUNNING. Tags are integers in our own sorted sets (doubles, exact to 2^53), so BullMQ's 2^21
 * priority range never limits them and nothing needs re-basing.
 */

/** Virtual-time cost of one edit at weight 1; an integer so tags stay exact (a weight up to 1e6 still costs ≥ 1). */
export const FAIR_COST_UNIT = 1_000_000;

/**
 * Adds edits to one lane. Idempotent per edit: one already waiting is left where it is (0), one already handed
 * to BullMQ and not finished is reported (2) so the caller can re-add its job, which BullMQ ignores when it exists.
 * KEYS: 1 queue, 2 tenants, 3 clock, 4 since, 5 inflight.
 * ARGV: 1 tenant-queue stem, 2 now ms, 3 ttl s, 4 BullMQ job-hash stem (a job that exists is in flight), then
 * (edit id, tenant, cost) triples. Returns one code per edit.
 */
const ENQUEUE_SCRIPT = `
local vt = tonumber(redis.call('HGET', KEYS[3], 'vtime') or '0')
local results = {}
for i = 5, #ARGV, 3 do
  local id, tenant, cost = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if redis.call('ZSCORE', KEYS[1], id) then
    results[#results + 1] = 0
  elseif redis.call('HEXISTS', KEYS[5], id) == 1 or redis.call('EXISTS', ARGV[4] .. id) == 1 then
    results[#results + 1] = 2
  else
    local finishField = 'finish:' .. tenant
    local finish = tonumber(redis.call('HGET', KEYS[3], finishField) or '0')
    local start = string.format('%.0f', math.max(vt, finish))
    redis.call('HSET', KEYS[3], finishField, string.format('%.0f', tonumber(start) + cost))
    local tenantQueue = ARGV[1] .. tenant
    redis.call('ZADD', tenantQueue, start, id)
    redis.call('EXPIRE', tenantQueue, ARGV[3])
    redis.call('ZADD', KEYS[1], start, id)
    redis.call('ZADD', KEYS[4], ARGV[2], id)
    -- A tenant's tags only grow, so an existing head stays its head.
    redis.call('ZADD', KEYS[2], 'NX', start, tenant)
    results[#results + 1] = 1
  end
end
for k = 1, 4 do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
return results
`;

/**
 * Picks the next fair edits for BullMQ. First the running counts: every in-flight edit whose record is terminal
 * or gone is dropped (so a count can never leak: it is derived from the records, which every path settles), the
 * rest are counted per tenant. Then, lane by lane in priority order, while the lane holds fewer than `ready` jobs
 * in BullMQ (plus fresh hand-offs), the lowest-tag edit of a tenant under the cap leaves the fair structures, is
 * marked in flight and handed off; an edit whose record is terminal is dropped instead (a cancel that died
 * before removing it).
 * KEYS: 1 inflight, 2 BullMQ's prioritized zset, then per lane 5 keys: queue, tenants, clock, since, handoff.
 * ARGV: 1 edit-record stem, 2 now ms, 3 ready per lane, 4 max running per tenant (0: no cap), 5 handoff stale ms,
 *       then per lane: tenant-queue stem, BullMQ score lower bound, upper bound (exclusive).
 * Returns flat (edit id, tenant, lane index) triples.
 */
const DISPATCH_SCRIPT = `
local running = {}
local inflight = redis.call('HGETALL', KEYS[1])
for i = 1, #inflight, 2 do
  local status = redis.call('HGET', ARGV[1] .. inflight[i], 'status')
  if status == 'queued' or status == 'running' then
    running[inflight[i + 1]] = (running[inflight[i + 1]] or 0) + 1
  else
    redis.call('HDEL', KEYS[1], inflight[i])
  end
end
local now, ready, cap, stale = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local picked = {}
local lanes = (#KEYS - 2) / 5
for lane = 0, lanes - 1 do
  local queue, tenants, clock, since, handoff = KEYS[3 + lane * 5], KEYS[4 + lane * 5], KEYS[5 + lane * 5], KEYS[6 + lane * 5], KEYS[7 + lane * 5]
  local stem, low, high = ARGV[6 + lane * 3], ARGV[7 + lane * 3], ARGV[8 + lane * 3]
  local buffered = redis.call('ZCOUNT', KEYS[2], low, '(' .. high) + redis.call('ZCOUNT', handoff, now - stale, '+inf')
  while buffered < ready do
    local candidate = nil
    for _, tenant in ipairs(redis.call('ZRANGE', tenants, 0, -1)) do
      if cap == 0 or (running[tenant] or 0) < cap then candidate = tenant break end
    end
    if not candidate then break end
    local tenantQueue = stem .. candidate
    local head = redis.call('ZRANGE', tenantQueue, 0, 0, 'WITHSCORES')
    if #head == 0 then
      redis.call('ZREM', tenants, candidate)
    else
      local id = head[1]
      redis.call('ZREM', tenantQueue, id)
      redis.call('ZREM', queue, id)
      redis.call('ZREM', since, id)
      local nextHead = redis.call('ZRANGE', tenantQueue, 0, 0, 'WITHSCORES')
      if #nextHead == 0 then redis.call('ZREM', tenants, candidate) else redis.call('ZADD', tenants, nextHead[2], candidate) end
      local status = redis.call('HGET', ARGV[1] .. id, 'status')
      if status ~= 'succeeded' and status ~= 'failed' and status ~= 'canceled' then
        local vt = tonumber(redis.call('HGET', clock, 'vtime') or '0')
        if tonumber(head[2]) > vt then redis.call('HSET', clock, 'vtime', head[2]) end
        redis.call('HSET', KEYS[1], id, candidate)
        redis.call('ZADD', handoff, now, id)
        running[candidate] = (running[candidate] or 0) + 1
        buffered = buffered + 1
        picked[#picked + 1] = id
        picked[#picked + 1] = candidate
        picked[#picked + 1] = lane
      end
    end
  end
end
return picked
`;

/**
 * Takes a waiting edit out of the fair structures (a cancel). When its tenant has nothing else waiting in the
 * lane, the tenant's finish tag is forgotten, so canceled backlog does not push the tenant's next edit back.
 * KEYS: 1 queue, 2 tenants, 3 clock, 4 since. ARGV: 1 tenant-queue stem, 2 edit id. Returns 1 when removed.
 */
const REMOVE_SCRIPT = `
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
for _, tenant in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local tenantQueue = ARGV[1] .. tenant
  if redis.call('ZREM', tenantQueue, ARGV[2]) == 1 then
    local head = redis.call('ZRANGE', tenantQueue, 0, 0, 'WITHSCORES')
    if #head == 0 then
      redis.call('ZREM', KEYS[2], tenant)
      redis.call('HDEL', KEYS[3], 'finish:' .. tenant)
    else
      redis.call('ZADD', KEYS[2], head[2], tenant)
    end
    return 1
  end
end
return 1
`;

export interface FairSchedulerOptions {
  /** TENANT_WEIGHTS: a tenant's share relative to the others (default 1). */
  weights?: ReadonlyMap<string, number>;
  /** TENANT_MAX_RUNNING: edits of one tenant handed to workers at once, fleet-wide; 0 = no cap. @defaultValue 0 */
  maxRunningPerTenant?: number;
  /**
   * EDIT_READY_PER_LANE: jobs kept waiting in BullMQ per lane, ready for the next free worker slot. Each one is
   * an edit that a newly queued edit of another tenant waits behind. @defaultValue 1
   */
  readyPerLane?: number;
  /** A hand-off older than this is re-added to BullMQ by the next dispatch. @defaultValue 5000 */
  handoffStaleMs?: number;
  /** TTL refreshed on the fair structures at every enqueue. @defaultValue 30 days */
  ttlS?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

export interface FairEdit {
  editId: string;
  tenantId: string;
  lane: Lane;
}

export type FairEnqueueOutcome = 'queued' | 'already_queued' | 'in_flight';

const ENQUEUE_OUTCOMES: Readonly<Record<number, FairEnqueueOutcome>> = {
  0: 'already_queued',
  1: 'queued',
  2: 'in_flight',
};

/** The Redis side of fair scheduling; `BullmqJobQueue` moves what `dispatch` picks into BullMQ. */
export class RedisFairScheduler {
  private readonly weights: ReadonlyMap<string, number>;
  private readonly maxRunning: number;
  private readonly ready: number;
  private readonly staleMs: number;
  private readonly ttlS: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** BullMQ's prioritized zset of the edit queue and each lane's score range in it. */
    private readonly bullmq: { prioritizedKey: string; jobKeyStem: string; laneScores: Record<Lane, [number, number]> },
    options: FairSchedulerOptions = {},
  ) {
    this.weights = options.weights ?? new Map();
    this.maxRunning = options.maxRunningPerTenant ?? 0;
    this.ready = Math.max(1, options.readyPerLane ?? 1);
    this.staleMs = options.handoffStaleMs ?? 5000;
    this.ttlS = options.ttlS ?? 30 * 86_400;
    this.now = options.now ?? Date.now;
  }

  /** Virtual-time cost of one edit of this tenant. */
  costOf(tenantId: string): number {
    const weight = this.weights.get(tenantId) ?? 1;
    return Math.max(1, Math.round(FAIR_COST_UNIT / weight));
  }

  /** Adds edits in the given order (a batch keeps its input order within its tenant). */
  async enqueue(edits: readonly FairEdit[]): Promise<FairEnqueueOutcome[]> {
    const outcomes: FairEnqueueOutcome[] = new Array<FairEnqueueOutcome>(edits.length);
    for (const lane of LANES) {
      const indexes = edits.flatMap((edit, index) => (edit.lane === lane ? [index] : []));
      // Bounded script size: a 1,000-item batch is a few calls, each atomic for its slice.
      for (let from = 0; from < indexes.length; from += 500) {
        const slice = indexes.slice(from, from + 500);
        const args = slice.flatMap((index) => [
          edits[index].editId,
          edits[index].tenantId,
          String(this.costOf(edits[index].tenantId)),
        ]);
        const codes = (await this.redis.eval(
          ENQUEUE_SCRIPT,
          5,
          this.keys.fairQueue(lane),
          this.keys.fairTenants(lane),
          this.keys.fairClock(lane),
          this.keys.fairSince(lane),
          this.keys.fairInflight(),
          this.keys.fairTenantQueue(lane, ''),
          String(this.now()),
          String(this.ttlS),
          this.bullmq.jobKeyStem,
          ...args,
        )) as number[];
        slice.forEach((index, i) => (outcomes[index] = ENQUEUE_OUTCOMES[codes[i]] ?? 'queued'));
      }
    }
    return outcomes;
  }

  /** Picks the edits BullMQ should get now (at most `readyPerLane` waiting per lane), already marked in flight. */
  async dispatch(): Promise<FairEdit[]> {
    const keys = [this.keys.fairInflight(), this.bullmq.prioritizedKey];
    const args = [
      this.keys.edit(''),
      String(this.now()),
      String(this.ready),
      String(this.maxRunning),
      String(this.staleMs),
    ];
    for (const lane of LANES) {
      keys.push(
        this.keys.fairQueue(lane),
        this.keys.fairTenants(lane),
        this.keys.fairClock(lane),
        this.keys.fairSince(lane),
        this.keys.fairHandoff(lane),
      );
      const [low, high] = this.bullmq.laneScores[lane];
      args.push(this.keys.fairTenantQueue(lane, ''), String(low), String(high));
    }
    const flat = (await this.redis.eval(DISPATCH_SCRIPT, keys.length, ...keys, ...args)) as (string | number)[];
    const picked: FairEdit[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      picked.push({ editId: String(flat[i]), tenantId: String(flat[i + 1]), lane: LANES[Number(flat[i + 2])] });
    }
    return picked;
  }

  /** The jobs of these edits exist in BullMQ now. */
  async handedOff(edits: readonly FairEdit[]): Promise<void> {
    for (const lane of LANES) {
      const ids = edits.filter((edit) => edit.lane === lane).map((edit) => edit.editId);
      if (ids.length > 0) await this.redis.zrem(this.keys.fairHandoff(lane), ...ids);
    }
  }

  /** Hand-offs older than the stale age: the process that picked them may have died before adding the job. */
  async staleHandoffs(): Promise<FairEdit[]> {
    const cutoff = this.now() - this.staleMs;
    const stale: FairEdit[] = [];
    for (const lane of LANES) {
      const ids = await this.redis.zrangebyscore(this.keys.fairHandoff(lane), '-inf', cutoff, 'LIMIT', 0, 1000);
      if (ids.length === 0) continue;
      const tenants = await this.redis.hmget(this.keys.fairInflight(), ...ids);
      ids.forEach((editId, i) => stale.push({ editId, tenantId: tenants[i] ?? '', lane }));
    }
    return stale;
  }

  /** Removes a waiting edit; false when it was not waiting here (handed to BullMQ, or never queued). */
  async remove(editId: string): Promise<boolean> {
    for (const lane of LANES) {
      const removed = (await this.redis.eval(
        REMOVE_SCRIPT,
        4,
        this.keys.fairQueue(lane),
        this.keys.fairTenants(lane),
        this.keys.fairClock(lane),
        this.keys.fairSince(lane),
        this.keys.fairTenantQueue(lane, ''),
        editId,
      )) as number;
      if (removed === 1) return true;
    }
    return false;
  }

  /** 1-based rank in the lane's fair order among edits not yet handed to BullMQ, or null. */
  async rank(editId: string, lane: Lane): Promise<number | null> {
    const rank = await this.redis.zrank(this.keys.fairQueue(lane), editId);
    return rank === null ? null : rank + 1;
  }

  async isWaiting(editId: string): Promise<boolean> {
    const scores = await Promise.all(LANES.map((lane) => this.redis.zscore(this.keys.fairQueue(lane), editId)));
    return scores.some((score) => score !== null);
  }

  async isHandedOff(editId: string): Promise<boolean> {
    const scores = await Promise.all(LANES.map((lane) => this.redis.zscore(this.keys.fairHandoff(lane), editId)));
    return scores.some((score) => score !== null);
  }

  async waitingCount(lane: Lane): Promise<number> {
    return this.redis.zcard(this.keys.fairQueue(lane));
  }

  /** Edits of one tenant waiting in the fair structures (both lanes): what TENANT_MAX_QUEUED is compared with. */
  async tenantWaitingCount(tenantId: string): Promise<number> {
    const counts = await Promise.all(LANES.map((lane) => this.redis.zcard(this.keys.fairTenantQueue(lane, tenantId))));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Enqueue time of the lane's longest-waiting edit, or null. */
  async oldestWaitingAt(lane: Lane): Promise<Date | null> {
    const [, score] = await this.redis.zrange(this.keys.fairSince(lane), 0, 0, 'WITHSCORES');
    return score === undefined ? null : new Date(Number(score));
  }

  async waitingIds(limit: number): Promise<string[]> {
    const ids: string[] = [];
    for (const lane of LANES) {
      if (ids.length >= limit) break;
      ids.push(...(await this.redis.zrange(this.keys.fairQueue(lane), 0, limit - ids.length - 1)));
    }
    return ids;
  }

  /** Edits handed to BullMQ and not terminal, per tenant (the counts TENANT_MAX_RUNNING is checked against). */
  async inFlightByTenant(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const tenant of Object.values(await this.redis.hgetall(this.keys.fairInflight()))) {
      counts.set(tenant, (counts.get(tenant) ?? 0) + 1);
    }
    return counts;
  }
}
