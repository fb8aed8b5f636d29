import { startRedisServer } from '@step1x/local-services';

/** The part of a throw-away redis-server handle the int-specs use. */
export interface TestRedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A throw-away redis-server (free port, temp dir, no persistence) for the adapter int-specs. */
export function startTestRedis(): Promise<TestRedisServer> {
  return startRedisServer();
}
