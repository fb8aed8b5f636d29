import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The subset of test/support's `startRedisServer` handle that the int-specs use. */
export interface TestRedisServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a throw-away redis-server through the shared test support (`test/support/redis-server.ts`). It is loaded
 * from its compiled output at run time because libs cannot reference the `test` project (which references them).
 */
export async function startTestRedis(): Promise<TestRedisServer> {
  const modulePath = join(__dirname, '..', '..', '..', '..', 'test', 'dist', 'support', 'redis-server.js');
  if (!existsSync(modulePath)) {
    throw new Error(`test support is not built (${modulePath} is missing): run \`npx tsc -b test\` first`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const support = require(modulePath) as { startRedisServer: () => Promise<TestRedisServer> };
  return support.startRedisServer();
}
