import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { DeferJobError, NonRetryableJobError, QueueName } from '@step1x/contracts';
import type { CancelBus } from './job-queue.port';
import { JOB_ABORT_CANCELED, JOB_ABORT_SHUTDOWN, type JobContext, type JobRegistry } from './job-registry';
import type { RedisClient, RedisKeys } from '@step1x/edit-store';

export interface BullmqJobConsumerOptions {
  /**
   * A connection for the workers (maxRetriesPerRequest: null); BullMQ duplicates it for its blocking reads. The
   * caller owns and closes it.
   */
  connection: RedisClient;
  keys: RedisKeys;
  /** Jobs run at once per queue. @defaultValue 1 for every queue */
  concurrency?: Partial<Record<QueueName, number>>;
  /** BULLMQ_LOCK_DURATION_MS. @defaultValue 30000 */
  lockDurationMs?: number;
  /** BULLMQ_STALLED_INTERVAL_MS. @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** BULLMQ_MAX_STALLED_COUNT. @defaultValue 2 */
  maxStalledCount?: number;
  /** Cancel requests from the API reach the job here when this process holds it. @defaultValue none */
  cancelBus?: CancelBus;
  /** Worker-level errors (connection loss…); handler errors go through BullMQ's retry logic. */
  onError?: (error: Error) => void;
  /**
   * A job failed for good: no attempt left, or BullMQ gave up on it without running the handler (stalled more
   * than `maxStalledCount` times). Lets the owner of the records settle the ones no handler saw fail.
   * @defaultValue none
   */
  onJobFailed?: (failure: FinalJobFailure) => void;
  /**
   * Told when this worker takes an edit job and when its handler is done with it (before BullMQ fetches the next
   * one): the fair dispatcher refills the lane here (docs/ARCHITECTURE.md "Fair scheduling across tenants").
   * Errors go to `onError`; they never fail the job. @defaultValue none
   */
  onEditJob?: (phase: 'taken' | 'finished', editId: string) => Promise<unknown>;
}

export interface FinalJobFailure {
  queue: QueueName;
  jobId: string;
  name: string;
  reason: string;
}

export interface CloseResult {
  /** True when every running job finished within the grace period. */
  drained: boolean;
}

/**
 * Consumer side of the queues: one BullMQ Worker per queue that has a registered handler. Handlers run with an
 * AbortSignal; on cancel the signal aborts with `canceled`; on shutdown past the grace period it aborts with
 * `shutdown` and the job is moved back to the queue (not failed, not counted as an attempt).
 */
export class BullmqJobConsumer {
  private readonly workers: Worker[] = [];
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(private readonly options: BullmqJobConsumerOptions) {}

  async start(registry: JobRegistry): Promise<void> {
    if (this.workers.length > 0) throw new Error('consumer already started');
    for (const queue of registry.queues()) {
      const worker = new Worker(queue, (job, token, signal) => this.process(registry, job, token, signal), {
        connection: this.options.connection,
        prefix: this.options.keys.bullPrefix(),
        concurrency: this.options.concurrency?.[queue] ?? 1,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        maxStalledCount: this.options.maxStalledCount ?? 2,
        autorun: false,
      });
      worker.on('error', (error) => this.options.onError?.(error));
      worker.on('failed', (job, error) => {
        // `finishedOn` is only set when the failure is final (a retry leaves it unset).
        if (job?.finishedOn && job.id) {
          this.options.onJobFailed?.({ queue, jobId: job.id, name: job.name, reason: error.message });
        }
      });
      this.workers.push(worker);
    }
    if (this.options.cancelBus) {
      this.unsubscribe = await this.options.cancelBus.subscribe((message) => this.cancelLocal(message.editId));
    }
    for (const worker of this.workers) void worker.run().catch((error: Error) => this.options.onError?.(error));
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  /** Aborts the job's signal if this process runs it; true when it did. */
  cancelLocal(jobId: string): boolean {
    return this.workers.map((worker) => worker.cancelJob(jobId, JOB_ABORT_CANCELED)).some(Boolean);
  }

  /**
   * Stops taking jobs, waits up to `graceMs` for running ones, then aborts them with `shutdown` (they go back to
   * the queue) and closes the workers. The Redis connection stays open: its owner closes it.
   */
  async close(graceMs: number): Promise<CloseResult> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([closing.then(() => 'closed' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'closed') return { drained: true };
    for (const worker of this.workers) worker.cancelAllJobs(JOB_ABORT_SHUTDOWN);
    // Give the aborted handlers a moment to hand their jobs back, then stop regardless.
    const handedBack = await Promise.race([closing.then(() => true), delay(Math.min(5000, graceMs + 1000), false)]);
    if (!handedBack) await Promise.all(this.workers.map((worker) => worker.close(true)));
    return { drained: false };
  }

  private async process(registry: JobRegistry, job: Job, token?: string, signal?: AbortSignal): Promise<unknown> {
    const handler = registry.handlerFor(job.name);
    if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}" on queue ${job.queueName}`);
    if (job.queueName !== QueueName.Edit || !this.options.onEditJob) {
      return this.runHandler(handler, job, token, signal);
    }
    await this.tellEditJob('taken', job.id ?? '');
    try {
      return await this.runHandler(handler, job, token, signal);
    } finally {
      await this.tellEditJob('finished', job.id ?? '');
    }
  }

  private async tellEditJob(phase: 'taken' | 'finished', editId: string): Promise<void> {
    try {
      await this.options.onEditJob?.(phase, editId);
    } catch (error) {
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private async runHandler(
    handler: NonNullable<ReturnType<JobRegistry['handlerFor']>>,
    job: Job,
    token?: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const context: JobContext = {
      jobId: job.id ?? '',
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
      signal: signal ?? new AbortController().signal,
      reportProgress: (progress) => job.updateProgress(progress),
    };
    try {
      return await handler(job.data, context);
    } catch (error) {
      if (signal?.aborted && signal.reason === JOB_ABORT_SHUTDOWN) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (error instanceof DeferJobError) {
        // Back to the queue for another worker (docs/DEPLOY.md "Upgrades"): not failed, no attempt counted.
        await job.moveToDelayed(Date.now() + error.retryAfterMs, token);
        throw new DelayedError();
      }
      if (error instanceof NonRetryableJobError) throw new UnrecoverableError(`${error.code}: ${error.message}`);
      throw error;
    }
  }
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
