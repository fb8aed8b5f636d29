// The implementation is shared with `step1x start` (libs/local-services). libs/queue's int-specs load this file's
// compiled output at run time (libs/queue/src/testing/real-redis.ts).
export { startRedisServer, type RedisServerHandle, type StartRedisOptions } from '@step1x/local-services';
