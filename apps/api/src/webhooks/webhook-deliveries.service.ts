import { Inject, Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, WebhookEventType, type DeliverySubject } from '@step1x/contracts';
import type { DeliveryLog, DeliveryLogEntry, EditRepository, WebhookStateStore } from '@step1x/edit-store';
import type { JobQueue } from '@step1x/job-queue';
import { serializeWebhookEvent } from '@step1x/webhooks';
import { DEPS } from '../api-deps';
import { EditPresenter } from '../edits/edit-presenter';
import { tenantEditOrNotFound } from '../edits/tenant-edit';

/** One attempt as GET …/deliveries shows it (CONTRACT.md "Webhook operations"). */
export interface DeliveryView {
  webhook_id: string;
  type: string;
  attempt: number;
  status_code: number | null;
  error: { code: string; message: string } | null;
  duration_ms: number;
  at: string;
  next_attempt_at: string | null;
}

export interface ReplayAccepted {
  webhook_id: string;
  type: string;
  /** The attempt number the replay will be recorded under. */
  attempt: number;
}

/**
 * The delivery log and replays. `list` serves any subject: the batch route checks that the batch is the caller's
 * and then answers `deliveries.list({ kind: 'batch', id })`.
 */
@Injectable()
export class WebhookDeliveries {
  constructor(
    @Inject(DEPS.deliveries) private readonly log: DeliveryLog,
    @Inject(DEPS.webhookState) private readonly state: WebhookStateStore,
    @Inject(DEPS.edits) private readonly edits: EditRepository,
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    private readonly presenter: EditPresenter,
  ) {}

  /** Every attempt of the subject's webhooks, oldest first. The caller has checked the subject is the tenant's. */
  async list(subject: DeliverySubject): Promise<{ data: DeliveryView[] }> {
    return { data: (await this.log.list(subject)).map(presentDelivery) };
  }

  async listForEdit(tenantId: string, editId: string): Promise<{ data: DeliveryView[] }> {
    await tenantEditOrNotFound(this.edits, tenantId, editId);
    return this.list({ kind: 'edit', id: editId });
  }

  /**
   * Queues the last `edit.completed` again as the next attempt of the same message (same `webhook-id`), whether
   * or not its retries were spent. The worker signs it with the current secret(s) and a fresh output URL.
   */
  async replayCompleted(tenantId: string, editId: string): Promise<ReplayAccepted> {
    const record = await tenantEditOrNotFound(this.edits, tenantId, editId);
    if (!record.webhook) {
      throw new ApiError(ErrorCode.NotReplayable, `edit ${editId} has no webhook_url`, { param: 'id' });
    }
    const message = await this.state.beginReplay(editId);
    if (!message) {
      throw new ApiError(
        ErrorCode.NotReplayable,
        `no edit.completed of ${editId} was sent yet (the edit is ${record.status}); nothing to replay`,
        { param: 'id' },
      );
    }
    const data = await this.presenter.present(record);
    await this.jobQueue.enqueueWebhook({
      messageId: message.messageId,
      tenantId,
      editId,
      type: WebhookEventType.EditCompleted,
      url: record.webhook.url,
      body: serializeWebhookEvent(WebhookEventType.EditCompleted, data, new Date(message.eventAt)),
      attempt: message.lastAttempt,
      replay: true,
    });
    return { webhook_id: message.messageId, type: WebhookEventType.EditCompleted, attempt: message.lastAttempt };
  }
}

/** Stored entries keep their original field names (chaos ledger, bench read them); the API names are the contract's. */
export function presentDelivery(entry: DeliveryLogEntry): DeliveryView {
  return {
    webhook_id: entry.message_id,
    type: entry.type,
    attempt: entry.attempt,
    status_code: entry.status,
    error: entry.error ? { code: entry.error.code, message: entry.error.message } : null,
    duration_ms: entry.duration_ms,
    at: entry.at,
    next_attempt_at: entry.next_retry_at,
  };
}
