import { Inject, Injectable } from '@nestjs/common';
import { newWebhookMessageId, WebhookEventType, type EditRecord } from '@step1x/contracts';
import type { EditEventLog } from '@step1x/edit-store';
import type { JobQueue } from '@step1x/job-queue';
import { serializeWebhookEvent } from '@step1x/webhooks';
import { DEPS, type Clock } from '../api-deps';
import { EditPresenter } from './edit-presenter';

/**
 * The API finishes an edit itself in one case: canceling a queued edit. Its `edit.completed` event (status
 * `canceled`) is queued here exactly as the worker queues its own (CONTRACT.md Webhooks).
 */
@Injectable()
export class CompletionWebhook {
  constructor(
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.clock) private readonly clock: Clock,
    private readonly presenter: EditPresenter,
    @Inject(DEPS.eventLog) private readonly eventLog: EditEventLog | null,
  ) {}

  /** To the edit's event log (SSE) and, when it has one, its webhook; both tried, the first failure rethrown. */
  async emit(record: EditRecord): Promise<void> {
    const webhook = record.webhook;
    if (!webhook && !this.eventLog) return;
    const data = await this.presenter.present(record);
    const body = serializeWebhookEvent(WebhookEventType.EditCompleted, data, this.clock());
    const results = await Promise.allSettled([
      this.eventLog?.append(record.id, WebhookEventType.EditCompleted, body),
      webhook &&
        this.jobQueue.enqueueWebhook({
          messageId: newWebhookMessageId(),
          tenantId: record.tenantId,
          editId: record.id,
          type: WebhookEventType.EditCompleted,
          url: webhook.url,
          body,
          attempt: 1,
        }),
    ]);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
