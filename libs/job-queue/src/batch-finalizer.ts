import {
  newWebhookMessageId,
  presentBatch,
  presentEdit,
  WebhookEventType,
  type BatchRecord,
  type BatchResultLine,
  type EditRecord,
} from '@step1x/contracts';
import type { BatchRepository, EditRepository } from '@step1x/edit-store';
import type { JobQueue } from './job-queue.port';

/** What the finalizer needs of the object store (`@step1x/storage`'s `ObjectStore` has it). */
export interface ResultsStore {
  put(key: string, body: Buffer, options: { contentType: string; metadata?: Record<string, string> }): Promise<unknown>;
  presignGet(key: string, options: { expiresInSeconds: number }): Promise<{ url: string; expiresAt: Date }>;
}

export interface BatchFinalizerOptions {
  /** OUTPUT_URL_TTL_S: lifetime of URLs inside the results file and the webhook. */
  urlTtlS: number;
  /** @defaultValue () => new Date() */
  clock?: () => Date;
}

type BatchStore = Pick<
  BatchRepository,
  'get' | 'itemIds' | 'markFinalized' | 'finalized' | 'toFinalize' | 'takeProgressSlot'
>;

/** Deterministic S3 key, so two finalizers racing write the same object. */
export function batchResultsKey(tenantId: string, batchId: string): string {
  return `batches/${tenantId}/${batchId}.jsonl`;
}

/**
 * `batch.completed`'s webhook-id, derived from the batch id: its delivery job id (`<messageId>.1`) is then the same
 * for every finalizer, and BullMQ keeps one job per id, so the event is queued once.
 */
export function batchCompletedMessageId(batchId: string): string {
  return `msg_${batchId.slice('batch_'.length)}`;
}

/**
 * Finishes a batch whose items are all terminal (docs/ARCHITECTURE.md "Batches"): writes the results JSONL in input
 * order, marks the batch `completed` (or `canceled` when a cancel was asked) by compare-and-set, queues one
 * `batch.completed`, then leaves the to-finalize set. Each step is idempotent, and the batch stays on the set until
 * the last one is done, so a process dying anywhere leaves it for the next pass (any worker, any API).
 */
export class BatchFinalizer {
  private readonly clock: () => Date;

  constructor(
    private readonly batches: BatchStore,
    private readonly edits: Pick<EditRepository, 'get'>,
    private readonly results: ResultsStore,
    private readonly queue: Pick<JobQueue, 'enqueueWebhook'>,
    private readonly options: BatchFinalizerOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Finalizes every batch waiting on the to-finalize set (a worker calls this every second). */
  async finalizePending(limit = 20): Promise<number> {
    let done = 0;
    for (const batchId of await this.batches.toFinalize(limit)) {
      if (await this.finalize(batchId)) done++;
    }
    return done;
  }

  /** True when this call finalized the batch (false: gone, not done yet, or someone else did). */
  async finalize(batchId: string): Promise<boolean> {
    const batch = await this.batches.get(batchId);
    if (!batch) {
      await this.batches.finalized(batchId);
      return false;
    }
    let applied = false;
    if (batch.status !== 'completed' && batch.status !== 'canceled') {
      const { total, succeeded, failed, canceled } = batch.counts;
      if (succeeded + failed + canceled < total) return false;
      const key = batchResultsKey(batch.tenantId, batch.id);
      await this.results.put(key, await this.resultsFile(batch), {
        contentType: 'application/x-ndjson',
        metadata: { tenant: batch.tenantId, batch: batch.id },
      });
      applied = await this.batches.markFinalized(
        batch.id,
        batch.cancelRequested ? 'canceled' : 'completed',
        this.clock(),
        key,
      );
    }
    // Also after a finalizer died between the compare-and-set and here: the event's job id makes it one event.
    const final = await this.batches.get(batchId);
    if (final) await this.emit(final, WebhookEventType.BatchCompleted, batchCompletedMessageId(batchId));
    await this.batches.finalized(batchId);
    return applied;
  }

  /** `batch.progress`, at most one per `intervalMs` per batch across every process. */
  async progress(batchId: string, intervalMs = 5000): Promise<void> {
    const batch = await this.batches.get(batchId);
    if (!batch?.webhook?.events.includes('batch.progress')) return;
    if (batch.status === 'completed' || batch.status === 'canceled') return;
    if (!(await this.batches.takeProgressSlot(batchId, intervalMs))) return;
    await this.emit(batch, WebhookEventType.BatchProgress, null);
  }

  private async emit(batch: BatchRecord, type: WebhookEventType, messageId: string | null): Promise<void> {
    if (!batch.webhook) return;
    const at = this.clock();
    const body = JSON.stringify({ type, timestamp: at.toISOString(), data: await this.present(batch) });
    await this.queue.enqueueWebhook({
      messageId: messageId ?? newWebhookMessageId(at.getTime()),
      tenantId: batch.tenantId,
      // A batch's own events are logged under the batch (GET /v1/batches/{id}/deliveries).
      editId: batch.id,
      subject: { kind: 'batch', id: batch.id },
      type,
      url: batch.webhook.url,
      body,
      attempt: 1,
    });
  }

  private async present(batch: BatchRecord) {
    const signed = batch.resultsKey
      ? await this.results.presignGet(batch.resultsKey, { expiresInSeconds: this.options.urlTtlS })
      : null;
    return presentBatch(batch, signed ? { url: signed.url, expiresAt: signed.expiresAt.toISOString() } : null);
  }

  private async resultsFile(batch: BatchRecord): Promise<Buffer> {
    const ids = await this.batches.itemIds(batch.id);
    const lines: string[] = [];
    // Sequential reads in chunks: a 1,000-item batch is 1,000 small HGETALLs, done once per batch.
    for (let i = 0; i < ids.length; i += 100) {
      const records = await Promise.all(ids.slice(i, i + 100).map((id) => this.edits.get(id)));
      for (let j = 0; j < records.length; j++) lines.push(JSON.stringify(await this.line(ids[i + j], records[j])));
    }
    return Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : '', 'utf8');
  }

  private async line(editId: string, record: EditRecord | null): Promise<BatchResultLine> {
    if (!record) {
      return {
        custom_id: '',
        edit_id: editId,
        status: 'failed',
        output: null,
        error: { code: 'not_found', message: 'the edit record expired' },
      };
    }
    const signed =
      record.status === 'succeeded' && record.output
        ? await this.results.presignGet(record.output.key, { expiresInSeconds: this.options.urlTtlS })
        : null;
    const edit = presentEdit(record, {
      queuePosition: null,
      signedOutput: signed ? { url: signed.url, expiresAt: signed.expiresAt.toISOString() } : null,
    });
    return {
      custom_id: record.customId ?? '',
      edit_id: record.id,
      status: record.status,
      output: edit.output,
      error: edit.error,
    };
  }
}
