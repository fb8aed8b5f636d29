import { imageDecodeLimits, requireRedisTarget, type AppConfig } from '@step1x/config';
import {
  closeRedisClient,
  createRedisConnection,
  EditEventStream,
  RedisEditEventLog,
  RedisEditEventWakeups,
  RedisApiKeyStore,
  RedisBatchRepository,
  RedisEditRepository,
  RedisIdempotencyStore,
  RedisDeliveryLog,
  RedisKeys,
  RedisRateLimiter,
  RedisUploadStore,
  RedisWebhookSecretStore,
  RedisWebhookStateStore,
} from '@step1x/edit-store';
import { BullmqJobQueue, RedisCancelBus } from '@step1x/job-queue';
import { createS3ObjectStore } from '@step1x/storage';
import { EgressGuard } from '@step1x/egress';
import type { ApiDeps } from './api-deps';
import { EgressImageFetcher, EgressUrlChecker } from './images/egress-adapters';
import { DecodingImageInspector } from './images/decoding-image-inspector';

export interface ApiRuntime {
  deps: ApiDeps;
  /** Closes every client this runtime opened (call after the app is closed). */
  close(): Promise<void>;
}

export interface CreateApiDepsOptions {
  /** Create the bucket when absent (embedded s3rver, tests); never needed on real S3. @defaultValue false */
  ensureBucket?: boolean;
}

/** The composition root of the API: real adapters for every port, built from the validated config. */
export async function createApiDeps(config: AppConfig, options: CreateApiDepsOptions = {}): Promise<ApiRuntime> {
  const redis = createRedisConnection(requireRedisTarget(config, 'api'), 'command');
  const keys = new RedisKeys(config.redis.keyPrefix);
  const objectStore = createS3ObjectStore(config.s3);
  if (options.ensureBucket) await objectStore.createBucketIfMissing();
  const guard = new EgressGuard({ allowlist: config.egress.allowlist });
  const jobQueue = new BullmqJobQueue({
    connection: redis,
    keys,
    editAttempts: config.queue.editMaxAttempts,
    editRetryBackoffMs: config.queue.editRetryBackoffMs,
    modelVersion: config.queue.modelVersion,
    fairness: {
      weights: config.fairness.tenantWeights,
      maxRunningPerTenant: config.fairness.maxRunningPerTenant,
      readyPerLane: config.fairness.readyPerLane,
    },
  });
  const cancelBus = new RedisCancelBus(redis, keys);
  // Live events (docs/ARCHITECTURE.md "Live events and previews"): reads on the command connection, one
  // subscriber connection per process for wake-ups, opened at the first follower.
  const eventLog = new RedisEditEventLog(redis, keys, { ttlS: config.events.ttlS, maxLen: config.events.maxLen });
  const eventWakeups = new RedisEditEventWakeups(redis, keys);
  const deps: ApiDeps = {
    edits: new RedisEditRepository(redis, keys, { retentionDays: config.retention.editRecordDays }),
    batches: new RedisBatchRepository(redis, keys, { retentionDays: config.retention.editRecordDays }),
    idempotency: new RedisIdempotencyStore(redis, keys, config.limits.idempotencyTtlS),
    apiKeys: new RedisApiKeyStore(redis, keys),
    webhookSecrets: new RedisWebhookSecretStore(redis, keys),
    uploads: new RedisUploadStore(redis, keys),
    jobQueue,
    cancelBus,
    objectStore,
    imageFetcher: new EgressImageFetcher(guard, {
      timeoutMs: config.limits.imageFetchTimeoutMs,
      maxBytes: config.limits.maxUploadBytes,
      maxRedirects: config.limits.imageFetchMaxRedirects,
    }),
    urlChecker: new EgressUrlChecker(guard),
    imageInspector: new DecodingImageInspector(imageDecodeLimits(config)),
    pingObjectStore: () => objectStore.ping(),
    rateLimiter: new RedisRateLimiter(redis, keys, config.rateLimits),
    deliveries: new RedisDeliveryLog(redis, keys, config.retention.editRecordDays),
    webhookState: new RedisWebhookStateStore(redis, keys),
    eventLog,
    eventStream: new EditEventStream(eventLog, eventWakeups),
  };
  return {
    deps,
    close: async () => {
      await jobQueue.close();
      await cancelBus.close();
      await eventWakeups.close();
      await closeRedisClient(redis);
    },
  };
}
