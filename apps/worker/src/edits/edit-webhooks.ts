import {
  newWebhookMessageId,
  presentEdit,
  wantsWebhookEvent,
  WebhookEventType,
  type EditPreviewEventData,
  type EditRecord,
} from '@step1x/contracts';
import type { EditEventLog } from '@step1x/edit-store';
import type { JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';
import { serializeWebhookEvent } from '@step1x/webhooks';

export interface EditWebhooksOptions {
  /** OUTPUT_URL_TTL_S: lifetime of the output URL inside `edit.completed`. */
  outputUrlTtlS: number;
  /** @defaultValue () => new Date() */
  clock?: () => Date;
  /**
   * The per-edit event log behind `GET /v1/edits/{id}/events`: every event goes there, whether or not the edit has
   * a webhook (docs/ARCHITECTURE.md "Live events and previews"). @defaultValue none (webhooks only)
   */
  eventLog?: Pick<EditEventLog, 'append'>;
}

/**
 * Turns edit records into webhook events and queues them on the webhook queue (delivery happens there, with its
 * own retries). Each event gets its `webhook-id` here, once, so every retry of it carries the same one.
 */
export class EditWebhooks {
  private readonly clock: () => Date;

  constructor(
    private readonly queue: Pick<JobQueue, 'enqueueWebhook'>,
    private readonly outputs: Pick<ObjectStore, 'presignGet'>,
    private readonly options: EditWebhooksOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Whether the edit asked for `type` at all (`edit.completed` is always sent when a URL is set). */
  wants(record: EditRecord, type: WebhookEventType): boolean {
    return record.webhook !== null && wantsWebhookEvent(record.webhook.events, type);
  }

  /**
   * Appends `type` for `record` as it is now to the edit's event log, and queues it as a webhook when the edit
   * asked for it. Both are tried; the first failure is rethrown after the other was attempted.
   */
  async emit(record: EditRecord, type: WebhookEventType, at: Date = this.clock()): Promise<void> {
    const webhook = record.webhook && this.wants(record, type) ? record.webhook : null;
    if (!webhook && !this.options.eventLog) return;
    const data = presentEdit(record, { queuePosition: null, signedOutput: await this.signOutput(record) });
    await this.deliver(record, type, serializeWebhookEvent(type, data, at), webhook?.url ?? null, at);
  }

  /** `edit.preview` for the JPEG at `key` (CONTRACT.md "Live events and previews"). */
  async emitPreview(record: EditRecord, preview: { step: number; total: number; key: string }): Promise<void> {
    const type = WebhookEventType.EditPreview;
    const webhook = record.webhook && this.wants(record, type) ? record.webhook : null;
    if (!webhook && !this.options.eventLog) return;
    const at = this.clock();
    const signed = await this.outputs.presignGet(preview.key, { expiresInSeconds: this.options.outputUrlTtlS });
    const data: EditPreviewEventData = {
      id: record.id,
      step: preview.step,
      total: preview.total,
      url: signed.url,
      expires_at: signed.expiresAt.toISOString(),
    };
    await this.deliver(record, type, serializeWebhookEvent(type, data, at), webhook?.url ?? null, at);
  }

  private async deliver(
    record: EditRecord,
    type: WebhookEventType,
    body: string,
    webhookUrl: string | null,
    at: Date,
  ): Promise<void> {
    const results = await Promise.allSettled([
      this.options.eventLog?.append(record.id, type, body),
      webhookUrl === null
        ? undefined
        : this.queue.enqueueWebhook({
            messageId: newWebhookMessageId(at.getTime()),
            tenantId: record.tenantId,
            editId: record.id,
            type,
            url: webhookUrl,
            body,
            attempt: 1,
          }),
    ]);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async signOutput(record: EditRecord): Promise<{ url: string; expiresAt: string } | null> {
    if (record.status !== 'succeeded' || !record.output) return null;
    const signed = await this.outputs.presignGet(record.output.key, { expiresInSeconds: this.options.outputUrlTtlS });
    return { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
  }
}

/** At most one `edit.progress` per interval per edit (CONTRACT.md Webhooks); the first step always passes. */
export class ProgressThrottle {
  private lastMs: number | null = null;

  constructor(private readonly minIntervalMs: number) {}

  /** True (and remembers `nowMs`) when an event may go out now. */
  take(nowMs: number): boolean {
    if (this.lastMs !== null && nowMs - this.lastMs < this.minIntervalMs) return false;
    this.lastMs = nowMs;
    return true;
  }
}
