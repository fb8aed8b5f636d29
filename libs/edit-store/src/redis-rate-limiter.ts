// Rate limits shared by every API replica (CONTRACT.md "Fair scheduling and limits"): rate-limiter-flexible's
// fixed-window counters in our Redis, one atomic INCRBY+PEXPIRE script per check. The only import of the library.
import type { RedisClient } from './redis-connection';
import { BurstyRateLimiter, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RedisKeys } from './redis-keys';
import type { RateLimiter, RateLimitWindow } from './store.ports';

/** The burst pool refills over this window (docs/ARCHITECTURE.md "Rate limits"). */
export const BURST_WINDOW_S = 10;

export interface RedisRateLimiterOptions {
  /** Requests per second per key; 0 = unlimited. */
  rps: number;
  /** Extra requests per BURST_WINDOW_S once a second's budget is spent. */
  burst: number;
  /** Created edits per minute per key; 0 = unlimited. */
  editsPerMin: number;
}

/** What a check answers while a limit is off: always allowed, nothing to show. */
const UNLIMITED: RateLimitWindow = { allowed: true, limit: 0, remaining: 0, resetMs: 0 };

export class RedisRateLimiter implements RateLimiter {
  private readonly requests: { consume(key: string, points?: number): Promise<RateLimiterRes> } | null;
  private readonly edits: RateLimiterRedis | null;

  constructor(
    redis: RedisClient,
    keys: RedisKeys,
    private readonly options: RedisRateLimiterOptions,
  ) {
    // Refuse at once while the connection is down instead of queueing behind ioredis's reconnects: the request
    // then fails fast with 503 (error-response.ts), never hangs and is never let through unchecked.
    const common = { storeClient: redis, rejectIfRedisNotReady: true };
    const perSecond =
      options.rps > 0
        ? new RateLimiterRedis({ ...common, keyPrefix: keys.rateLimit('rps'), points: options.rps, duration: 1 })
        : null;
    this.requests =
      perSecond && options.burst > 0
        ? new BurstyRateLimiter(
            perSecond,
            new RateLimiterRedis({
              ...common,
              keyPrefix: keys.rateLimit('burst'),
              points: options.burst,
              duration: BURST_WINDOW_S,
            }),
          )
        : perSecond;
    this.edits =
      options.editsPerMin > 0
        ? new RateLimiterRedis({
            ...common,
            keyPrefix: keys.rateLimit('edits'),
            points: options.editsPerMin,
            duration: 60,
          })
        : null;
  }

  consumeRequest(keyId: string): Promise<RateLimitWindow> {
    if (!this.requests) return Promise.resolve(UNLIMITED);
    return windowOf(this.requests.consume(keyId, 1), this.options.rps);
  }

  consumeEdits(keyId: string, count: number): Promise<RateLimitWindow> {
    if (!this.edits) return Promise.resolve(UNLIMITED);
    const limit = this.options.editsPerMin;
    // More than a whole window can never pass; refusing without counting keeps the key's budget for smaller calls.
    if (count > limit) return Promise.resolve({ allowed: false, limit, remaining: 0, resetMs: 60_000 });
    return windowOf(this.edits.consume(keyId, count), limit);
  }

  async refundEdits(keyId: string, count: number): Promise<RateLimitWindow> {
    if (!this.edits) return UNLIMITED;
    // `reward` lowers the window's counter; one that lands after its window ended credits the next window with
    // at most `count` (the window of a refused request is seconds old, so this is rare and small).
    const limit = this.options.editsPerMin;
    const res = await this.edits.reward(keyId, count);
    return { allowed: true, limit, remaining: Math.min(limit, res.remainingPoints), resetMs: res.msBeforeNext };
  }
}

/** The library resolves with a RateLimiterRes when allowed and rejects with one when refused; other errors pass. */
async function windowOf(consumed: Promise<RateLimiterRes>, limit: number): Promise<RateLimitWindow> {
  try {
    const res = await consumed;
    return { allowed: true, limit, remaining: res.remainingPoints, resetMs: res.msBeforeNext };
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error;
    return { allowed: false, limit, remaining: 0, resetMs: error.msBeforeNext };
  }
}
