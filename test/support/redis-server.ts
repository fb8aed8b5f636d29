// The implementation is shared with `step1x start` (libs/local-services); the edit-store and job-queue
// int-specs (test/integration) get their throw-away redis-server here.
export { startRedisServer, type RedisServerHandle, type StartRedisOptions } from '@step1x/local-services';
