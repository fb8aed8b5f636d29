import type { RedisClient } from '@step1x/edit-store';
import type { RedisKeys } from '@step1x/edit-store';
import type { EditRunSample, EtaQuery } from './job-queue.port';

/** Recent completions that define the fleet's throughput. */
const THROUGHPUT_WINDOW_MS = 10 * 60_000;
/** Weight of the newest run in a (size_level, steps) average once it has a few samples. */
const NEWEST_RUN_WEIGHT = 0.2;
const TTL_S = 86_400;

/**
 * Folds one run into the running average of its (size_level, steps) and records the completion, atomically so
 * workers finishing together do not overwrite each other's samples.
 * KEYS: 1 run-times hash, 2 completions zset. ARGV: 1 field, 2 run ms, 3 finish ms, 4 edit id, 5 window ms,
 * 6 newest weight, 7 ttl s.
 */
const RECORD_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local run = tonumber(ARGV[2])
local avg, n = run, 1
if current then
  local decoded = cjson.decode(current)
  n = decoded.n + 1
  local weight = math.max(tonumber(ARGV[6]), 1 / n)
  avg = decoded.avg_ms + (run - decoded.avg_ms) * weight
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ avg_ms = avg, n = n }))
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], ARGV[7])
return n
`;

/**
 * Measured run times per (size_level, steps) and the fleet's recent completions, kept in Redis so every API
 * replica answers the same `eta_s` (docs/ARCHITECTURE.md "Fair scheduling across tenants").
 */
export class RedisEditThroughput {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async record(sample: EditRunSample): Promise<void> {
    if (!(sample.runMs >= 0)) return;
    await this.redis.eval(
      RECORD_SCRIPT,
      2,
      this.keys.editRunTimes(),
      this.keys.editCompletions(),
      `${sample.sizeLevel}:${sample.steps}`,
      String(Math.round(sample.runMs)),
      String(sample.finishedAt.getTime()),
      sample.editId,
      String(THROUGHPUT_WINDOW_MS),
      String(NEWEST_RUN_WEIGHT),
      String(TTL_S),
    );
  }

  /** Average run time of this (size_level, steps), or null when none was measured yet. */
  async averageRunMs(sizeLevel: number, steps: number): Promise<number | null> {
    const stored = await this.redis.hget(this.keys.editRunTimes(), `${sizeLevel}:${steps}`);
    if (!stored) return null;
    const parsed = JSON.parse(stored) as { avg_ms?: unknown };
    return typeof parsed.avg_ms === 'number' && Number.isFinite(parsed.avg_ms) ? parsed.avg_ms : null;
  }

  /** Edits the fleet finished per second over the recent window, or null with fewer than 2 completions in it. */
  async completionsPerSecond(now: Date): Promise<number | null> {
    const from = now.getTime() - THROUGHPUT_WINDOW_MS;
    const [count, oldest] = await Promise.all([
      this.redis.zcount(this.keys.editCompletions(), from, '+inf'),
      this.redis.zrangebyscore(this.keys.editCompletions(), from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1),
    ]);
    if (count < 2 || oldest.length < 2) return null;
    const spanMs = Math.max(1000, now.getTime() - Number(oldest[1]));
    return count / (spanMs / 1000);
  }

  /**
   * Queued: an edit at fair position p starts once p edits ahead of it (or running) have finished, so p over the
   * fleet's measured completions per second; with too few recent completions, p runs of its own (size_level,
   * steps) on one slot. Running: its average run time minus the time it has run. Null when nothing is measured.
   */
  async etaSeconds(query: EtaQuery): Promise<number | null> {
    if (query.status === 'running') {
      const average = await this.averageRunMs(query.sizeLevel, query.steps);
      if (average === null) return null;
      return Math.max(0, Math.round((query.startedAt.getTime() + average - query.now.getTime()) / 1000));
    }
    const rate = await this.completionsPerSecond(query.now);
    if (rate !== null) return Math.round(query.position / rate);
    const average = await this.averageRunMs(query.sizeLevel, query.steps);
    return average === null ? null : Math.round((query.position * average) / 1000);
  }
}
