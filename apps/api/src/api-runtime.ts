import type { AppConfig } from '@step1x/config';
import {
  BullmqJobQueue,
  closeRedisClient,
  createRedisClient,
  RedisApiKeyStore,
  RedisCancelBus,
  RedisEditRepository,
  RedisIdempotencyStore,
  RedisKeys,
  RedisUploadStore,
  RedisWebhookSecretStore,
} from '@step1x/queue';
import { S3ObjectStore } from '@step1x/storage';
import { EgressGuard } from '@step1x/webhooks';
import type { ApiDeps } from './api-deps';
import { EgressImageFetcher, EgressUrlChecker } from './images/egress-adapters';
import { PipelineImageInspector } from './images/pipeline-image-inspector';

export class MissingRedisUrlError extends Error {
  readonly code = 'missing_redis_url';
  constructor() {
    super('REDIS_URL is unset: start Redis (npm start runs a local one) and pass its URL in the config');
    this.name = 'MissingRedisUrlError';
  }
}

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
  if (!config.redis.url) throw new MissingRedisUrlError();
  const redis = createRedisClient(config.redis.url, 'command');
  const keys = new RedisKeys(config.redis.keyPrefix);
  const objectStore = new S3ObjectStore({
    bucket: config.s3.bucket,
    region: config.s3.region,
    endpoint: config.s3.endpoint ?? undefined,
    forcePathStyle: config.s3.forcePathStyle,
    credentials:
      config.s3.accessKeyId && config.s3.secretAccessKey
        ? { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey }
        : undefined,
  });
  if (options.ensureBucket) await objectStore.createBucketIfMissing();
  const guard = new EgressGuard({ allowlist: config.egress.allowlist });
  const jobQueue = new BullmqJobQueue({
    connection: redis,
    keys,
    editAttempts: config.queue.editMaxAttempts,
    editRetryBackoffMs: config.queue.editRetryBackoffMs,
  });
  const cancelBus = new RedisCancelBus(redis, keys);
  const deps: ApiDeps = {
    edits: new RedisEditRepository(redis, keys, { retentionDays: config.retention.editRecordDays }),
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
    imageInspector: new PipelineImageInspector({
      maxPixels: config.limits.maxImagePixels,
      maxAspectRatio: config.limits.maxAspectRatio,
    }),
    pingObjectStore: () => objectStore.ping(),
  };
  return {
    deps,
    close: async () => {
      await jobQueue.close();
      await cancelBus.close();
      await closeRedisClient(redis);
    },
  };
}
