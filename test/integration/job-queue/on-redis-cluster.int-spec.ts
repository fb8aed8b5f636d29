// The job-queue int-specs again, every suite on a real local 3-master Redis Cluster (redis-cli --cluster create)
// instead of one redis-server: BullMQ's scripts, our lane-position script, the cancel bus and the reconciler's
// record/queue steps must all run there unchanged (docs/DEPLOY.md "Redis Cluster"). redisForSuite reads the
// variable in its before hook, so setting it after the imports below (hoisted) is in time.
import { SUITE_REDIS_CLUSTER_ENV } from '../../support/redis-server';
import './bullmq-job-queue.int-spec';
import './edit-reconciler.int-spec';

process.env[SUITE_REDIS_CLUSTER_ENV] = '1';
