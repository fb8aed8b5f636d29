import type { Redis } from 'ioredis';
import { startRedisServer } from '@step1x/local-services';
import { closeRedisClient, createRedisClient } from '../redis-connection';

/** The part of a throw-away redis-server handle the int-specs use. */
export interface TestRedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A throw-away redis-server (free port, temp dir, no persistence) for the adapter int-specs. */
export function startTestRedis(): Promise<TestRedisServer> {
  return startRedisServer();
}

/** A throw-away redis-server with the two clients a queue test needs: commands, and BullMQ's blocking reads. */
export interface TestQueueRedis {
  command: Redis;
  blocking: Redis;
  stop(): Promise<void>;
}

export async function startTestQueueRedis(): Promise<TestQueueRedis> {
  const server = await startTestRedis();
  const command = createRedisClient(server.url);
  const blocking = createRedisClient(server.url, 'blocking');
  return {
    command,
    blocking,
    stop: async () => {
      await closeRedisClient(command);
      await closeRedisClient(blocking);
      await server.stop();
    },
  };
}
