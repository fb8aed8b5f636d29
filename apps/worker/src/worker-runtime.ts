import { QueueName, WebhookEventType } from '@step1x/contracts';
import { imageDecodeLimits, requireRedisTarget, type AppConfig } from '@step1x/config';
import {
  closeRedisClient,
  createRedisConnection,
  RedisBatchRepository,
  RedisDeliveryLog,
  RedisEditEventLog,
  RedisEditRepository,
  RedisKeys,
  RedisWebhookSecretStore,
  RedisWebhookStateStore,
} from '@step1x/edit-store';
import {
  BatchFinalizer,
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
import { WorkerFairDispatch } from './edits/worker-fair-dispatch';
import { EditRunner } from './edits/edit-runner.service';
import { egressImageFetcher } from './edits/source-url-fetcher';
import { EditWebhooks } from './edits/edit-webhooks';
import { EditorPool } from './edits/editor-pool';
import { DeliverWebhookHandler } from './jobs/deliver-webhook.handler';
import { EditImageHandler } from './jobs/edit-image.handler';
import { loadWarmEditors, requireModelsDir } from './models/model-preflight';
import { FreshCompletedBody } from './webhooks/completed-event-body';
import { modelsVersionOf } from './models/models-version';
import { startWorkerHealthServer, type WorkerHealthServer } from './health/worker-health-server';
import { WebhookDeliveryService } from './webhooks/webhook-delivery.service';
import { createConsoleLogger, describeError, type WorkerLogger } from './worker-logger';

/** How often a running worker reconciles records and queue again (after the one at start). */
const RECONCILE_INTERVAL_MS = 5 * 60_000;
/** How often a worker finalizes batches whose last item is terminal (docs/ARCHITECTURE.md "Batches"). */
const FINALIZE_INTERVAL_MS = 1000;

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
  /** The version of its models (models-version.ts), compared with each job's `modelVersion`. */
  readonly modelsVersion: string;
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
  const redisTarget = requireRedisTarget(config, 'worker');
  const logger = options.logger ?? createConsoleLogger(config.server.logLevel);
  const modelsDir = requireModelsDir(options.modelsDir, config.worker.modelsDir);
  // Up before the models load: /healthz answers at once, /readyz says 503 until the worker takes jobs.
  let ready = false;
  let pingRedis: () => Promise<void> = () => Promise.reject(new Error('not connected yet'));
  const deferredForModelVersion = { count: 0 };
  const health: WorkerHealthServer | null =
    config.worker.healthPort > 0
      ? await startWorkerHealthServer(config.server.host, config.worker.healthPort, {
          ready: () => ready,
          pingRedis: () => pingRedis(),
          metrics: () =>
            '# HELP step1x_worker_jobs_deferred_total Edit jobs handed back because their model version is not ours.\n' +
            '# TYPE step1x_worker_jobs_deferred_total counter\n' +
            `step1x_worker_jobs_deferred_total{reason="model_version"} ${deferredForModelVersion.count}\n` +
            `step1x_worker_ready ${ready ? 1 : 0}\n`,
        })
      : null;
  if (health) logger.info(`health server on ${config.server.host}:${health.port} (/healthz, /readyz, /metrics)`);
  const pipeline = { imageLimits: imageDecodeLimits(config), ...(options.pipeline ?? sessionOptionsFrom(config)) };
  const allowRandomWeights = options.allowRandomWeights ?? config.worker.allowRandomWeights;
  const editors = await loadWarmEditors(modelsDir, config.worker.concurrency, logger, {
    pipeline,
    allowRandomWeights,
  }).catch(async (error: unknown) => {
    await health?.close();
    throw error;
  });
  const pool = new EditorPool(editors);
  const modelsVersion = modelsVersionOf(modelsDir);

  const keys = new RedisKeys(config.redis.keyPrefix);
  const command = createRedisConnection(redisTarget, 'command');
  const blocking = createRedisConnection(redisTarget, 'blocking');
  const jobQueue = new BullmqJobQueue({
    connection: command,
    keys,
    editAttempts: config.queue.editMaxAttempts,
    editRetryBackoffMs: config.queue.editRetryBackoffMs,
    fairness: {
      weights: config.fairness.tenantWeights,
      maxRunningPerTenant: config.fairness.maxRunningPerTenant,
      readyPerLane: config.fairness.readyPerLane,
    },
  });
  const cancelBus = new RedisCancelBus(command, keys);
  pingRedis = () => jobQueue.ping();
  const edits = new RedisEditRepository(command, keys, { retentionDays: config.retention.editRecordDays });
  const fairDispatch = new WorkerFairDispatch(jobQueue, (editId) => edits.get(editId), {
    onError: (error) => logger.warn(`fair dispatch: ${describeError(error)}`),
  });
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
    onEditJob: (phase, editId) => fairDispatch.onEditJob(phase, editId),
  });
  const closeClients = async () => {
    await jobQueue.close().catch(() => undefined);
    await cancelBus.close();
    await Promise.all([closeRedisClient(command), closeRedisClient(blocking)]);
    await health?.close();
  };

  let reconcile: () => Promise<void> = async () => undefined;
  let finalizeBatches: () => Promise<void> = async () => undefined;
  try {
    const objectStore = createS3ObjectStore(config.s3);
    // One guard for every request the worker makes outward: batch items' image_url and webhook deliveries.
    const egress = new EgressGuard({ allowlist: config.egress.allowlist });
    const batches = new RedisBatchRepository(command, keys, { retentionDays: config.retention.editRecordDays });
    const finalizer = new BatchFinalizer(batches, edits, objectStore, jobQueue, {
      urlTtlS: config.limits.outputUrlTtlS,
    });
    const webhooks = new EditWebhooks(jobQueue, objectStore, {
      outputUrlTtlS: config.limits.outputUrlTtlS,
      eventLog: new RedisEditEventLog(command, keys, { ttlS: config.events.ttlS, maxLen: config.events.maxLen }),
    });
    // A batch item that settles: its batch's progress event (at most 1 per 5 s), and the batch is finalized at once
    // when it was the last one (else the 1 s pass below, or the next worker, does it).
    const onItemSettled = async (record: { batchId?: string | null }) => {
      if (!record.batchId) return;
      await finalizer.progress(record.batchId);
      await finalizer.finalize(record.batchId);
    };
    const runner = new EditRunner(edits, objectStore, pool, webhooks, {
      maxInputBytes: config.limits.maxUploadBytes,
      progressMinIntervalMs: config.webhooks.progressMinIntervalMs,
      logger,
      fetchSourceUrl: egressImageFetcher(egress, {
        timeoutMs: config.limits.imageFetchTimeoutMs,
        maxBytes: config.limits.maxUploadBytes,
        maxRedirects: config.limits.imageFetchMaxRedirects,
      }),
      onSettled: onItemSettled,
    });
    finalizeBatches = async () => void (await finalizer.finalizePending());
    onEditAbandoned = (editId, reason) =>
      void runner
        .failAbandoned(editId, reason)
        .catch((error: unknown) => logger.error(`${editId} not settled after its job failed: ${describeError(error)}`));
    const sender = new WebhookSender({
      guard: egress,
      schedule: createRetrySchedule({ delaysMs: config.webhooks.retryScheduleMs, jitter: config.webhooks.jitter }),
      timeoutMs: config.webhooks.timeoutMs,
    });
    const delivery = new WebhookDeliveryService({
      secrets: new RedisWebhookSecretStore(command, keys),
      sender,
      deliveries: new RedisDeliveryLog(command, keys, config.retention.editRecordDays),
      queue: jobQueue,
      state: new RedisWebhookStateStore(command, keys),
      completedBodies: new FreshCompletedBody(edits, objectStore, config.limits.outputUrlTtlS),
      logger,
    });
    const registry = JobRegistry.fromInstances([
      new EditImageHandler(runner, {
        modelsVersion,
        onModelVersionMismatch: (payload) => {
          deferredForModelVersion.count++;
          logger.warn(
            `${payload.editId}: queued for models ${payload.modelVersion}, this worker has ${modelsVersion}; ` +
              'left in the queue for a worker with those models',
          );
        },
      }),
      new DeliverWebhookHandler(delivery),
    ]);
    // Before taking jobs, and every few minutes after: settle what a crash between two Redis steps left behind
    // (docs/ARCHITECTURE.md "Cancel and reconciliation"). Every step is a compare-and-set or an idempotent queue
    // call, so workers reconciling together do not clash.
    const reconciler = new EditReconciler(edits, jobQueue, {
      onSettled: async (record) => {
        await webhooks.emit(record, WebhookEventType.EditCompleted);
        await onItemSettled(record);
      },
    });
    reconcile = async () => {
      const reconciled = await reconciler.reconcile();
      // Batches whose last item settled while no process was left to finalize them.
      await finalizer.finalizePending(1000);
      if (Object.values(reconciled).some((count) => count > 0)) {
        logger.info(`reconciled edits and queue: ${JSON.stringify(reconciled)}`);
      }
    };
    await reconcile();
    await consumer.start(registry);
    fairDispatch.start();
  } catch (error) {
    await consumer.close(0).catch(() => undefined);
    await closeClients();
    await pool.release();
    throw error;
  }
  ready = true;
  logger.info(
    `taking jobs: ${config.worker.concurrency} edit(s) at once, models in ${modelsDir}, models version ${modelsVersion}`,
  );
  const reconcileTimer = setInterval(
    () => void reconcile().catch((error: unknown) => logger.warn(`reconciliation: ${describeError(error)}`)),
    RECONCILE_INTERVAL_MS,
  ).unref();
  let finalizing = false;
  const finalizeTimer = setInterval(() => {
    if (finalizing) return;
    finalizing = true;
    void finalizeBatches()
      .catch((error: unknown) => logger.warn(`batch finalization: ${describeError(error)}`))
      .finally(() => (finalizing = false));
  }, FINALIZE_INTERVAL_MS).unref();

  let closing: Promise<CloseResult> | null = null;
  const close = (graceMs = config.worker.shutdownGraceMs) =>
    (closing ??= (async () => {
      ready = false;
      logger.info(`stopping: no new jobs; running edits get ${graceMs} ms`);
      clearInterval(reconcileTimer);
      fairDispatch.stop();
      clearInterval(finalizeTimer);
      const result = await consumer.close(graceMs);
      await closeClients();
      await pool.release();
      logger.info(result.drained ? 'stopped: every running edit finished' : 'stopped: running edits handed back');
      return result;
    })());
  return {
    modelsDir,
    randomWeights: editors[0].randomWeights,
    concurrency: config.worker.concurrency,
    modelsVersion,
    close,
  };
}
