import {
  newWebhookMessageId,
  presentEdit,
  wantsWebhookEvent,
  type EditRecord,
  type WebhookEventType,
} from '@step1x/contracts';
import type { JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';
import { serializeWebhookEvent } from '@step1x/webhooks';

export interface EditWebhooksOptions {
  /** OUTPUT_URL_TTL_S: lifetime of the output URL inside `edit.completed`. */
  outputUrlTtlS: number;
  /** @defaultValue () => new Date() */
  clock?: () => Date;
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

  /** Queues `type` for `record` as it is now; a no-op when the edit did not ask for it. */
  async emit(record: EditRecord, type: WebhookEventType, at: Date = this.clock()): Promise<void> {
    if (!record.webhook || !this.wants(record, type)) return;
    const data = presentEdit(record, { queuePosition: null, signedOutput: await this.signOutput(record) });
    await this.queue.enqueueWebhook({
      messageId: newWebhookMessageId(at.getTime()),
      tenantId: record.tenantId,
      editId: record.id,
      type,
      url: record.webhook.url,
      body: serializeWebhookEvent(type, data, at),
      attempt: 1,
    });
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
