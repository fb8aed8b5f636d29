import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisRole =
  /** Plain commands (API, repositories): fail a command after a few reconnect attempts instead of hanging. */
  | 'command'
  /** BullMQ workers and pub/sub subscribers: blocking commands must wait through reconnects. */
  | 'blocking';

/**
 * A connection to our Redis: one node (standalone, or a managed primary endpoint with failover behind it) or a
 * Redis Cluster. Every key we use carries the `{prefix}` hash tag (RedisKeys), so every command, script, MULTI and
 * pipeline of ours names keys of one slot and runs the same on both.
 */
export type RedisClient = Redis | Cluster;

/** Where Redis is: REDIS_URL, and REDIS_CLUSTER saying whether that URL is a seed node of a cluster. */
export interface RedisTarget {
  url: string;
  /** The URL is one node of a Redis Cluster: the others are discovered from it (CLUSTER SLOTS). */
  cluster: boolean;
}

/** Reconnect with a capped backoff (1 s … 20 s, as BullMQ's production guide advises). */
const reconnectDelayMs = (times: number) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000);

function nodeOptions(role: RedisRole): RedisOptions {
  return { maxRetriesPerRequest: role === 'blocking' ? null : 3, enableReadyCheck: true };
}

/** Opens an ioredis client; the caller owns it and must `quit()` it (no client may outlive shutdown). */
export function createRedisClient(url: string, role: RedisRole = 'command', extra: RedisOptions = {}): Redis {
  return new Redis(url, { ...nodeOptions(role), retryStrategy: reconnectDelayMs, ...extra });
}

/**
 * Opens the client for `target`: a plain `Redis` for one node, an ioredis `Cluster` seeded with the URL's node
 * (user, password and TLS (`rediss:`) apply to every node) otherwise. The caller owns it, as above.
 */
export function createRedisConnection(target: RedisTarget, role: RedisRole = 'command'): RedisClient {
  if (!target.cluster) return createRedisClient(target.url, role);
  const url = new URL(target.url);
  const redisOptions: ClusterOptions['redisOptions'] = {
    ...nodeOptions(role),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    redisOptions,
    clusterRetryStrategy: reconnectDelayMs,
    // TLS certificates name the hosts, not the IPs CLUSTER SLOTS returns: keep the names as given.
    dnsLookup: (address, callback) => callback(null, address),
  });
}

/** A new client to the same Redis as `client` (e.g. for a subscriber), with the connection settings of `role`. */
export function duplicateRedisClient(client: RedisClient, role: RedisRole): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, { redisOptions: { ...client.options.redisOptions, ...nodeOptions(role) } });
  }
  return client.duplicate(nodeOptions(role));
}

export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * True for the errors ioredis raises while Redis cannot be reached (connection refused or closed, the retry limit
 * per command reached, the offline queue off, a cluster with no reachable node), as opposed to Redis answering with
 * an error: callers turn these into "dependency unavailable, retry later" instead of an internal error.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN'].includes(code)) return true;
  // rate-limiter-flexible's refusal while the connection is not ready (redis-rate-limiter.ts), and the cluster
  // client's errors while no node answers.
  return /^(Connection is closed\.|Stream isn't writeable|Redis connection is not ready|Failed to refresh slots cache|None of startup nodes)/.test(
    error.message,
  );
}
