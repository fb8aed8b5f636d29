// The implementation is shared with `step1x start` (libs/local-services); the edit-store and job-queue
// int-specs (test/integration) get their throw-away redis-server here.
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient } from '@step1x/edit-store';
import { startRedisServer, type RedisServerHandle } from '@step1x/local-services';

export { startRedisServer, type RedisServerHandle, type StartRedisOptions } from '@step1x/local-services';

/** A suite's redis-server with the two clients BullMQ needs; valid inside the suite's tests. */
export interface SuiteRedis {
  readonly server: RedisServerHandle;
  readonly command: Redis;
  readonly blocking: Redis;
}

/**
 * Registers before/after hooks (call it inside a `describe`) that start a throw-away redis-server with a command and
 * a blocking client, and close all three after the suite.
 */
export function redisForSuite(): SuiteRedis {
  let state: SuiteRedis | undefined;
  before(async () => {
    const server = await startRedisServer();
    state = { server, command: createRedisClient(server.url), blocking: createRedisClient(server.url, 'blocking') };
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
