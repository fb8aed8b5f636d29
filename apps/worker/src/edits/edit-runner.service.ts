import type { Readable } from 'node:stream';
import {
  isTerminalStatus,
  NonRetryableJobError,
  previewInterval,
  WebhookEventType,
  type EditImagePayload,
  type EditCompute,
  type EditRecord,
  type EditTimings,
  type OutputFormat,
} from '@step1x/contracts';
import { type EditRepository } from '@step1x/edit-store';
import { JOB_ABORT_CANCELED, JOB_ABORT_SHUTDOWN, type JobContext } from '@step1x/job-queue';
import { ObjectNotFoundError, type ObjectStore } from '@step1x/storage';
import { describeError, SILENT_LOGGER, type WorkerLogger } from '../worker-logger';
import { EditPreviews } from './edit-previews';
import { ProgressThrottle, type EditWebhooks } from './edit-webhooks';
import type { EditorPool } from './editor-pool';
import { EditAbortedError, EditInputError, type EditedImage, type EditorReceipt } from './image-editor.port';

export type EditRunOutcome =
  | 'succeeded'
  | 'canceled'
  | 'failed'
  /** Nothing to do: the edit is gone, already finished, or another worker finished it first. */
  | 'skipped';

/** The store-of-record operations a run needs. */
export type EditRunStore = Pick<
  EditRepository,
  'get' | 'markRunning' | 'updateProgress' | 'transition' | 'markFailed' | 'markCanceled'
>;

export interface EditRunnerOptions {
  /** MAX_UPLOAD_BYTES: the API never stores a larger input; a larger object is not ours to decode. */
  maxInputBytes: number;
  /** WEBHOOK_PROGRESS_MIN_INTERVAL_MS. */
  progressMinIntervalMs: number;
  /** @defaultValue () => new Date() */
  clock?: () => Date;
  /** @defaultValue silent */
  logger?: WorkerLogger;
  /**
   * Downloads a batch item's `image_url` (through the egress guard). Throws `EditInputError` (`url_fetch_failed`,
   * `url_not_allowed`, `payload_too_large`) for a URL that cannot give an image. Absent: such items fail.
   */
  fetchSourceUrl?: (url: string) => Promise<{ bytes: Buffer; contentType: string | null }>;
  /** Told after every terminal transition this runner applied (batch progress and finalization). */
  onSettled?: (record: EditRecord) => Promise<void>;
}

/** What one run measured, for the edit's receipt (CONTRACT.md "The edit object": `timings`, `compute`). */
interface RunMeasure {
  startedAtMs: number;
  /** performance.now() at the start of the run. */
  startedPerf: number;
  inputMs: number;
  uploadMs: number;
  receipt: EditorReceipt | null;
}

/** An output object in S3 and what its edit record says about it. */
interface WrittenOutput {
  key: string;
  width: number;
  height: number;
  truncated: boolean;
  /** Made by the tiny models' random weights (local mode only). */
  randomWeights: boolean;
}

/** Deterministic, so a re-run (retry, stalled job) overwrites the same object instead of leaving a second one. */
export function outputKeyOf(tenantId: string, editId: string, format: OutputFormat): string {
  return `outputs/${tenantId}/${editId}.${format}`;
}

/**
 * Runs one edit job against the store of record: start (compare-and-set, so a canceled or finished edit is never
 * run), read the input from S3, run the model with per-step progress, write the output, finish. Decides what a
 * failure means: cancel → `canceled`; shutdown → back to the queue; bad input → `failed` without retry; anything
 * else → retried by the queue, `failed` after the last attempt.
 */
export class EditRunner {
  private readonly clock: () => Date;
  private readonly logger: WorkerLogger;

  constructor(
    private readonly edits: EditRunStore,
    private readonly objects: Pick<ObjectStore, 'get' | 'put' | 'head' | 'delete'>,
    private readonly editors: EditorPool,
    private readonly webhooks: EditWebhooks,
    private readonly options: EditRunnerOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger ?? SILENT_LOGGER;
  }

  async run(payload: EditImagePayload, context: JobContext): Promise<EditRunOutcome> {
    const before = await this.edits.get(payload.editId);
    if (!before || isTerminalStatus(before.status)) return this.skip(payload.editId, before?.status ?? 'gone');
    const started = await this.edits.markRunning(payload.editId, context.attempt, this.clock());
    if (!started.applied) return this.skip(payload.editId, started.record?.status ?? 'gone');
    const record = started.record;
    // A stalled job taken over by another worker was already `running`: its start was announced once.
    if (before.status === 'queued') await this.emit(record, WebhookEventType.EditStarted);
    if (record.cancelRequested) return this.finishCanceled(record);
    if (before.status === 'running') {
      // Taken over from a worker that died: if it died after writing the output, record that one, not a second.
      const written = await this.outputWrittenBefore(record);
      if (written) return this.recordSucceeded(record, written);
    }

    const abort = new AbortController();
    const forward = () => abort.abort(context.signal.reason);
    if (context.signal.aborted) forward();
    else context.signal.addEventListener('abort', forward, { once: true });
    const measure: RunMeasure = {
      startedAtMs: this.clock().getTime(),
      startedPerf: performance.now(),
      inputMs: 0,
      uploadMs: 0,
      receipt: null,
    };
    try {
      const edited = await this.runModel(record, abort, measure);
      return await this.finishSucceeded(record, edited, measure);
    } catch (error) {
      return await this.finishAfterError(record, error, abort.signal, context, measure);
    } finally {
      context.signal.removeEventListener('abort', forward);
    }
  }

  /**
   * The queue gave up on the edit's job without the handler deciding (BullMQ fails a job that stalled more than
   * BULLMQ_MAX_STALLED_COUNT times when a worker next takes it, without running it). An edit still queued or
   * running then would never finish: fail it. A no-op for edits the handler already finished.
   */
  async failAbandoned(editId: string, reason: string): Promise<boolean> {
    const failed = await this.edits.markFailed(
      editId,
      { code: 'internal_error', message: 'the edit was interrupted too many times (its worker stopped)' },
      this.clock(),
    );
    if (!failed.applied) return false;
    this.logger.error(`${editId} failed without running: ${reason}`);
    await this.emit(failed.record, WebhookEventType.EditCompleted);
    await this.settled(failed.record);
    return true;
  }

  private async runModel(record: EditRecord, abort: AbortController, measure: RunMeasure): Promise<EditedImage> {
    const inputStarted = performance.now();
    if (record.sourceUrl) await this.fetchSource(record);
    const image = await this.readInput(record);
    measure.inputMs = performance.now() - inputStarted;
    const throttle = new ProgressThrottle(this.options.progressMinIntervalMs);
    let progressWork: Promise<void> = Promise.resolve();
    const previewEvery = previewInterval(record.input.previews);
    const previews = previewEvery > 0 ? new EditPreviews(record, this.objects, this.webhooks, this.logger) : null;
    try {
      return await this.editors.use((editor) => {
        measure.receipt = editor.receipt ?? null;
        return editor.edit({
          image,
          instruction: record.input.instruction,
          seed: record.input.seed,
          steps: record.input.steps,
          guidance: record.input.guidance,
          sizeLevel: record.input.size_level,
          format: record.input.output_format,
          signal: abort.signal,
          onProgress: (step, total) => {
            // Serialised, so progress lands in order and is all written before the edit finishes.
            progressWork = progressWork.then(() => this.recordProgress(record.id, step, total, throttle, abort));
          },
          previews: previews
            ? { every: previewEvery, onPreview: (step, total, image) => previews.offer(step, total, image) }
            : undefined,
        });
      });
    } finally {
      // Every preview lands before the edit's end is recorded, so `edit.preview` events precede `edit.completed`.
      await Promise.all([progressWork, previews?.settled()]);
    }
  }

  private async recordProgress(
    editId: string,
    step: number,
    total: number,
    throttle: ProgressThrottle,
    abort: AbortController,
  ): Promise<void> {
    try {
      const updated = await this.edits.updateProgress(editId, { step, total });
      if (!updated.applied) return;
      // Belt and braces next to the cancel fan-out: a cancel published before this worker subscribed still lands.
      if (updated.record.cancelRequested && !abort.signal.aborted) abort.abort(JOB_ABORT_CANCELED);
      const now = this.clock();
      // Throttled whether or not a webhook wants it: the same events go to the edit's event log (SSE).
      if (throttle.take(now.getTime())) {
        await this.emit(updated.record, WebhookEventType.EditProgress, now);
      }
    } catch (error) {
      this.logger.warn(`progress of ${editId} not recorded: ${describeError(error)}`);
    }
  }

  /**
   * A batch item's `image_url`, downloaded once into the edit's input key (a re-run after a crash finds it there).
   * A URL that gives no image fails the item (`url_fetch_failed`); the batch's other items go on.
   */
  private async fetchSource(record: EditRecord): Promise<void> {
    if (await this.objects.head(record.inputKey)) return;
    if (!this.options.fetchSourceUrl) {
      throw new EditInputError('url_fetch_failed', 'this worker cannot fetch image URLs');
    }
    const fetched = await this.options.fetchSourceUrl(record.sourceUrl as string);
    await this.objects.put(record.inputKey, fetched.bytes, {
      contentType: fetched.contentType ?? 'application/octet-stream',
      metadata: { tenant: record.tenantId, edit: record.id },
    });
  }

  private async readInput(record: EditRecord): Promise<Buffer> {
    let body: Readable;
    try {
      body = (await this.objects.get(record.inputKey)).body;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        throw new EditInputError('input_not_found', 'the input image is no longer stored', { cause: error });
      }
      throw error;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > this.options.maxInputBytes) {
        body.destroy();
        throw new EditInputError('payload_too_large', `the input image is over ${this.options.maxInputBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async finishSucceeded(record: EditRecord, edited: EditedImage, measure: RunMeasure): Promise<EditRunOutcome> {
    const format = record.input.output_format;
    const key = outputKeyOf(record.tenantId, record.id, format);
    const uploadStarted = performance.now();
    await this.objects.put(key, edited.bytes, {
      contentType: edited.contentType,
      // The size and truncation travel with the object, so a takeover can record it (outputWrittenBefore).
      metadata: {
        tenant: record.tenantId,
        edit: record.id,
        width: String(edited.width),
        height: String(edited.height),
        truncated: String(edited.truncated),
        random_weights: String(edited.randomWeights),
      },
    });
    measure.uploadMs = performance.now() - uploadStarted;
    return this.recordSucceeded(
      record,
      {
        key,
        width: edited.width,
        height: edited.height,
        truncated: edited.truncated,
        randomWeights: edited.randomWeights,
      },
      { measure, stageMs: edited.stageMs ?? null },
    );
  }

  /** The receipt of a finished run: the worker's wall time, and its stages when the edit succeeded. */
  private receiptOf(
    record: EditRecord,
    measure: RunMeasure | null,
    stageMs: EditedImage['stageMs'] | null,
    completedAt: Date,
  ): { timings: EditTimings | null; compute: EditCompute | null } {
    if (!measure) return { timings: null, compute: null };
    const compute: EditCompute | null = measure.receipt
      ? {
          worker_seconds: Math.round(performance.now() - measure.startedPerf) / 1000,
          execution_provider: measure.receipt.executionProvider,
          model: { ...measure.receipt.model },
        }
      : null;
    if (!stageMs) return { timings: null, compute };
    const createdMs = Date.parse(record.createdAt);
    const round = (ms: number) => Math.max(0, Math.round(ms));
    return {
      timings: {
        queued_ms: round(measure.startedAtMs - createdMs),
        preprocess_ms: round(measure.inputMs + stageMs.preprocess),
        mllm_ms: round(stageMs.mllm),
        denoise_ms: round(stageMs.denoise),
        vae_ms: round(stageMs.vae),
        upload_ms: round(measure.uploadMs),
        total_ms: round(completedAt.getTime() - createdMs),
      },
      compute,
    };
  }

  private async recordSucceeded(
    record: EditRecord,
    output: WrittenOutput,
    run: { measure: RunMeasure; stageMs: EditedImage['stageMs'] | null } | null = null,
  ): Promise<EditRunOutcome> {
    const completedAt = this.clock();
    const receipt = this.receiptOf(record, run?.measure ?? null, run?.stageMs ?? null, completedAt);
    const finished = await this.edits.transition(record.id, {
      from: ['running'],
      set: {
        status: 'succeeded',
        output: {
          key: output.key,
          width: output.width,
          height: output.height,
          format: record.input.output_format,
          seed: record.input.seed,
          // Only set when true, so a production record carries nothing extra.
          ...(output.randomWeights ? { randomWeights: true } : {}),
        },
        completedAt: completedAt.toISOString(),
        error: null,
        truncated: output.truncated,
        timings: receipt.timings,
        compute: receipt.compute,
        // The output has the oriented input's size (docs/MODEL.md §9): a batch item learns its size here.
        ...(record.input.width === null ? { inputSize: { width: output.width, height: output.height } } : {}),
      },
    });
    if (!finished.applied) {
      await this.dropUnrecordedOutput(output.key, finished.record);
      return this.skip(record.id, finished.record?.status ?? 'gone');
    }
    await this.emit(finished.record, WebhookEventType.EditCompleted);
    await this.settled(finished.record);
    return 'succeeded';
  }

  /**
   * The output an earlier attempt wrote before its worker died between the PUT and the record (S3 PUTs are
   * atomic, and the same edit always gives the same bytes), or null when there is none or it lacks the metadata
   * the record needs (then the edit simply runs again).
   */
  private async outputWrittenBefore(record: EditRecord): Promise<WrittenOutput | null> {
    const key = outputKeyOf(record.tenantId, record.id, record.input.output_format);
    const info = await this.objects.head(key);
    if (!info || info.metadata.edit !== record.id) return null;
    const width = Number(info.metadata.width);
    const height = Number(info.metadata.height);
    const { truncated, random_weights: randomWeights } = info.metadata;
    const isFlag = (value: string | undefined) => value === 'true' || value === 'false';
    if (!Number.isInteger(width) || !Number.isInteger(height) || !isFlag(truncated) || !isFlag(randomWeights)) {
      return null;
    }
    this.logger.info(`${record.id}: its output was written by an attempt that died; recorded without re-running`);
    return { key, width, height, truncated: truncated === 'true', randomWeights: randomWeights === 'true' };
  }

  /**
   * The output was written but the record moved on meanwhile (canceled, failed, gone): nobody will ever hand out
   * that object, so it goes. Unless the record names this very key: another worker that ran the same edit (a
   * stalled job taken over) recorded its output first, and the deterministic key means that object is the
   * recorded one.
   */
  private async dropUnrecordedOutput(key: string, current: EditRecord | null): Promise<void> {
    if (current?.output?.key === key) return;
    await this.objects
      .delete(key)
      .catch((error: unknown) => this.logger.warn(`unrecorded output ${key} not removed: ${describeError(error)}`));
  }

  private async finishAfterError(
    record: EditRecord,
    error: unknown,
    signal: AbortSignal,
    context: JobContext,
    measure: RunMeasure,
  ): Promise<EditRunOutcome> {
    if (signal.aborted && signal.reason === JOB_ABORT_SHUTDOWN) {
      await this.handBack(record, 'the worker is shutting down');
      throw error;
    }
    if (signal.aborted && signal.reason === JOB_ABORT_CANCELED) return this.finishCanceled(record, measure);
    if (error instanceof EditInputError) {
      await this.finishFailed(record, error.code, error.message, measure);
      throw new NonRetryableJobError(error.code, error.message);
    }
    if (error instanceof EditAbortedError) this.logger.warn(`${record.id} stopped without a cancel or shutdown`);
    this.logger.error(`${record.id} attempt ${context.attempt}/${context.maxAttempts}: ${describeError(error)}`);
    if (context.attempt >= context.maxAttempts) {
      await this.finishFailed(record, 'internal_error', `the edit failed after ${context.attempt} attempt(s)`, measure);
    } else {
      await this.handBack(record, 'retrying after an infrastructure error');
    }
    throw error;
  }

  private async finishCanceled(record: EditRecord, measure: RunMeasure | null = null): Promise<EditRunOutcome> {
    const at = this.clock();
    const canceled = await this.edits.transition(record.id, {
      from: ['queued', 'running'],
      set: {
        status: 'canceled',
        completedAt: at.toISOString(),
        compute: this.receiptOf(record, measure, null, at).compute,
      },
    });
    if (!canceled.applied) return this.skip(record.id, canceled.record?.status ?? 'gone');
    await this.emit(canceled.record, WebhookEventType.EditCompleted);
    await this.settled(canceled.record);
    return 'canceled';
  }

  private async finishFailed(record: EditRecord, code: string, message: string, measure: RunMeasure): Promise<void> {
    const at = this.clock();
    const failed = await this.edits.transition(record.id, {
      from: ['queued', 'running'],
      set: {
        status: 'failed',
        error: { code, message },
        completedAt: at.toISOString(),
        compute: this.receiptOf(record, measure, null, at).compute,
      },
    });
    if (failed.applied) {
      await this.emit(failed.record, WebhookEventType.EditCompleted);
      await this.settled(failed.record);
    }
  }

  private async settled(record: EditRecord): Promise<void> {
    await this.options
      .onSettled?.(record)
      .catch((error: unknown) => this.logger.warn(`after ${record.id} settled: ${describeError(error)}`));
  }

  /** Back to `queued` while the job waits in the queue again (retry backoff or another worker). */
  private async handBack(record: EditRecord, why: string): Promise<void> {
    this.logger.info(`${record.id} goes back to the queue: ${why}`);
    await this.edits
      .transition(record.id, {
        from: ['running'],
        set: { status: 'queued', progress: { step: 0, total: record.input.steps } },
      })
      .catch((error: unknown) => this.logger.warn(`${record.id} not marked queued: ${describeError(error)}`));
  }

  private async emit(record: EditRecord, type: WebhookEventType, at?: Date): Promise<void> {
    // A lost event must not undo a finished edit: the record is the truth, receivers can GET it.
    await this.webhooks
      .emit(record, type, at)
      .catch((error: unknown) => this.logger.error(`${type} for ${record.id} not queued: ${describeError(error)}`));
  }

  private skip(editId: string, status: string): EditRunOutcome {
    this.logger.info(`${editId} not run: it is ${status}`);
    return 'skipped';
  }
}
