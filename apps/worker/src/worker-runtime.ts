import { QueueName, WebhookEventType } from '@step1x/contracts';
import { imageDecodeLimits, requireRedisUrl, type AppConfig } from '@step1x/config';
import {
  closeRedisClient,
  createRedisClient,
  RedisDeliveryLog,
  RedisEditEventLog,
  RedisEditRepository,
  RedisKeys,
  RedisWebhookSecretStore,
} from '@step1x/edit-store';
import {
  BullmqJobConsumer,
  BullmqJobQueue,
  EditReconciler,
  JobRegistry,
  RedisCancelBus,
  type CloseResult,
} from '@step1x/job-queue';
import type { PipelineLoadOptions, SessionOptions } from '@step1x/pipeline';
import { createS3ObjectStore } from '@step1x/storage';
import { EgressGuard } from '@step1x/egress';
import { createRetrySchedule, WebhookSender } from '@step1x/webhooks';
import { EditRunner } from './edits/edit-runner.service';
import { EditWebhooks } from './edits/edit-webhooks';
import { EditorPool } from './edits/editor-pool';
import { DeliverWebhookHandler } from './jobs/deliver-webhook.handler';
import { EditImageHandler } from './jobs/edit-image.handler';
import { loadWarmEditors, requireModelsDir } from './models/model-preflight';
import { WebhookDeliveryService } from './webhooks/webhook-delivery.service';
import { createConsoleLogger, describeError, type WorkerLogger } from './worker-logger';

/** How often a running worker reconciles records and queue again (after the one at start). */
const RECONCILE_INTERVAL_MS = 5 * 60_000;

export interface StartWorkerOptions {
  /** @defaultValue console lines at LOG_LEVEL */
  logger?: WorkerLogger;
  /**
   * A models folder resolved by the caller (local mode: the tiny models it built); else MODELS_DIR. With neither,
   * the worker refuses to start (`models_dir_required`).
   */
  modelsDir?: string;
  /** Serve random-weight models (local mode passes true). @defaultValue ALLOW_RANDOM_WEIGHTS */
  allowRandomWeights?: boolean;
  /** Passed to every pipeline. @defaultValue ORT_EXECUTION_PROVIDERS and ORT_INTRA_OP_THREADS from the config */
  pipeline?: PipelineLoadOptions;
}

export interface RunningWorker {
  readonly modelsDir: string;
  /** The models have random weights (local mode, tests): every output says `random_weights: true`. */
  readonly randomWeights: boolean;
  /** Edits run at once (WORKER_CONCURRENCY), one warm pipeline each. */
  readonly concurrency: number;
  /**
   * Stops taking jobs, lets running edits finish within `graceMs` (SHUTDOWN_GRACE_MS) and hands the rest back to
   * the queue, then closes every Redis client and releases the models. Idempotent.
   */
  close(graceMs?: number): Promise<CloseResult>;
}

/** ONNX Runtime session settings from the ORT_* variables (README, Configuration). */
export function sessionOptionsFrom(config: AppConfig): SessionOptions {
  return {
    executionProviders: config.worker.executionProviders,
    intraOpThreads: config.worker.intraOpThreads,
    cpuMemArena: config.worker.cpuMemArena,
    memPattern: config.worker.memPattern,
  };
}

/**
 * The worker's composition root: models loaded and warm first (boot fails on a bad models folder before any job
 * is taken), then the adapters, the `@OnJob` registry (boot fails on a missing or duplicate handler) and the
 * BullMQ consumer on both queues.
 */
export async function startWorker(config: AppConfig, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const redisUrl = requireRedisUrl(config, 'worker');
  const logger = options.logger ?? createConsoleLogger(config.server.logLevel);
  const modelsDir = requireModelsDir(options.modelsDir, config.worker.modelsDir);
  const pipeline = { imageLimits: imageDecodeLimits(config), ...(options.pipeline ?? sessionOptionsFrom(config)) };
  const allowRandomWeights = options.allowRandomWeights ?? config.worker.allowRandomWeights;
  const editors = await loadWarmEditors(modelsDir, config.worker.concurrency, logger, { pipeline, allowRandomWeights });
  const pool = new EditorPool(editors);

  const keys = new RedisKeys(config.redis.keyPrefix);
  const command = createRedisClient(redisUrl, 'command');
  const blocking = createRedisClient(redisUrl, 'blocking');
  const jobQueue = new BullmqJobQueue({
    connection: command,
    keys,
    editAttempts: config.queue.editMaxAttempts,
    editRetryBackoffMs: config.queue.editRetryBackoffMs,
  });
  const cancelBus = new RedisCancelBus(command, keys);
  // Set once the runner exists; BullMQ reports final failures only after the consumer started.
  let onEditAbandoned: (editId: string, reason: string) => void = () => undefined;
  const consumer = new BullmqJobConsumer({
    connection: blocking,
    keys,
    concurrency: { edit: config.worker.concurrency, webhook: config.worker.webhookConcurrency },
    lockDurationMs: config.queue.lockDurationMs,
    stalledIntervalMs: config.queue.stalledIntervalMs,
    maxStalledCount: config.queue.maxStalledCount,
    cancelBus,
    onError: (error) => logger.error(`queue: ${describeError(error)}`),
    onJobFailed: (failure) => {
      if (failure.queue === QueueName.Edit) onEditAbandoned(failure.jobId, failure.reason);
    },
  });
  const closeClients = async () => {
    await jobQueue.close().catch(() => undefined);
    await cancelBus.close();
    await Promise.all([closeRedisClient(command), closeRedisClient(blocking)]);
  };

  let reconcile: () => Promise<void> = async () => undefined;
  try {
    const objectStore = createS3ObjectStore(config.s3);
    const edits = new RedisEditRepository(command, keys, { retentionDays: config.retention.editRecordDays });
    const webhooks = new EditWebhooks(jobQueue, objectStore, {
      outputUrlTtlS: config.limits.outputUrlTtlS,
      eventLog: new RedisEditEventLog(command, keys, { ttlS: config.events.ttlS, maxLen: config.events.maxLen }),
    });
    const runner = new EditRunner(edits, objectStore, pool, webhooks, {
      maxInputBytes: config.limits.maxUploadBytes,
      progressMinIntervalMs: config.webhooks.progressMinIntervalMs,
      logger,
    });
    onEditAbandoned = (editId, reason) =>
      void runner
        .failAbandoned(editId, reason)
        .catch((error: unknown) => logger.error(`${editId} not settled after its job failed: ${describeError(error)}`));
    const sender = new WebhookSender({
      guard: new EgressGuard({ allowlist: config.egress.allowlist }),
      schedule: createRetrySchedule({ delaysMs: config.webhooks.retryScheduleMs, jitter: config.webhooks.jitter }),
      timeoutMs: config.webhooks.timeoutMs,
    });
    const delivery = new WebhookDeliveryService(
      new RedisWebhookSecretStore(command, keys),
      sender,
      new RedisDeliveryLog(command, keys, config.retention.editRecordDays),
      jobQueue,
      logger,
    );
    const registry = JobRegistry.fromInstances([new EditImageHandler(runner), new DeliverWebhookHandler(delivery)]);
    // Before taking jobs, and every few minutes after: settle what a crash between two Redis steps left behind
    // (docs/ARCHITECTURE.md "Cancel and reconciliation"). Every step is a compare-and-set or an idempotent queue
    // call, so workers reconciling together do not clash.
    const reconciler = new EditReconciler(edits, jobQueue, {
      onSettled: (record) => webhooks.emit(record, WebhookEventType.EditCompleted),
    });
    reconcile = async () => {
      const reconciled = await reconciler.reconcile();
      if (Object.values(reconciled).some((count) => count > 0)) {
        logger.info(`reconciled edits and queue: ${JSON.stringify(reconciled)}`);
      }
    };
    await reconcile();
    await consumer.start(registry);
  } catch (error) {
    await consumer.close(0).catch(() => undefined);
    await closeClients();
    await pool.release();
    throw error;
  }
  logger.info(`taking jobs: ${config.worker.concurrency} edit(s) at once, models in ${modelsDir}`);
  const reconcileTimer = setInterval(
    () => void reconcile().catch((error: unknown) => logger.warn(`reconciliation: ${describeError(error)}`)),
    RECONCILE_INTERVAL_MS,
  ).unref();

  let closing: Promise<CloseResult> | null = null;
  const close = (graceMs = config.worker.shutdownGraceMs) =>
    (closing ??= (async () => {
      logger.info(`stopping: no new jobs; running edits get ${graceMs} ms`);
      clearInterval(reconcileTimer);
      const result = await consumer.close(graceMs);
      await closeClients();
      await pool.release();
      logger.info(result.drained ? 'stopped: every running edit finished' : 'stopped: running edits handed back');
      return result;
    })());
  return { modelsDir, randomWeights: editors[0].randomWeights, concurrency: config.worker.concurrency, close };
}
