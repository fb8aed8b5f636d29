import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole =
  /** Plain commands (API, repositories): fail a command after a few reconnect attempts instead of hanging. */
  | 'command'
  /** BullMQ workers and pub/sub subscribers: blocking commands must wait through reconnects. */
  | 'blocking';

/** Opens an ioredis client; the caller owns it and must `quit()` it (no client may outlive shutdown). */
export function createRedisClient(url: string, role: RedisRole = 'command', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'blocking' ? null : 3,
    enableReadyCheck: true,
    // Reconnect with a capped backoff (1 s … 20 s, as BullMQ's production guide advises).
    retryStrategy: (times) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000),
    ...extra,
  });
}

export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * True for the errors ioredis raises while Redis cannot be reached (connection refused or closed, the retry limit
 * per command reached, the offline queue off), as opposed to Redis answering with an error: callers turn these
 * into "dependency unavailable, retry later" instead of an internal error.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN'].includes(code)) return true;
  // The last: rate-limiter-flexible's refusal while the connection is not ready (redis-rate-limiter.ts).
  return /^(Connection is closed\.|Stream isn't writeable|Redis connection is not ready)/.test(error.message);
}
