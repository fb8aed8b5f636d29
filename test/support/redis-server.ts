// The implementation is shared with `step1x start` (libs/local-services); the edit-store and job-queue
// int-specs (test/integration) get their throw-away redis-server here.
import { after, before } from 'node:test';
import { closeRedisClient, createRedisConnection, type RedisClient } from '@step1x/edit-store';
import { startRedisCluster, startRedisServer, type RedisServerHandle } from '@step1x/local-services';

export { startRedisServer, type RedisServerHandle, type StartRedisOptions } from '@step1x/local-services';
export { startRedisCluster, type RedisClusterHandle } from '@step1x/local-services';

/** A suite's redis-server with the two clients BullMQ needs; valid inside the suite's tests. */
export interface SuiteRedis {
  /** The server, or on a cluster its first node (the clients' seed). */
  readonly server: Pick<RedisServerHandle, 'url' | 'stop'>;
  readonly command: RedisClient;
  readonly blocking: RedisClient;
}

/**
 * Set by a spec file before it loads other specs to run their suites on a real local 3-master Redis Cluster
 * instead of one redis-server (test/integration/job-queue/on-redis-cluster.int-spec.ts).
 */
export const SUITE_REDIS_CLUSTER_ENV = 'STEP1X_TEST_REDIS_CLUSTER';

/**
 * Registers before/after hooks (call it inside a `describe`) that start a throw-away redis-server (or a local Redis
 * Cluster, see SUITE_REDIS_CLUSTER_ENV) with a command and a blocking client, and close all three after the suite.
 */
export function redisForSuite(): SuiteRedis {
  let state: SuiteRedis | undefined;
  before(async () => {
    const cluster = process.env[SUITE_REDIS_CLUSTER_ENV] === '1';
    const server = cluster ? await startRedisCluster() : await startRedisServer();
    const target = { url: server.url, cluster };
    state = {
      server,
      command: createRedisConnection(target, 'command'),
      blocking: createRedisConnection(target, 'blocking'),
    };
  });
  after(async () => {
    if (!state) return;
    await closeRedisClient(state.command);
    await closeRedisClient(state.blocking);
    await state.server.stop();
  });
  const current = (): SuiteRedis => {
    if (!state) throw new Error('redisForSuite: used outside the suite (before its before hook ran)');
    return state;
  };
  return {
    get server() {
      return current().server;
    },
    get command() {
      return current().command;
    },
    get blocking() {
      return current().blocking;
    },
  };
}
