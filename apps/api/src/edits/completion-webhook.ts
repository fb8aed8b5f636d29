import { Inject, Injectable } from '@nestjs/common';
import { newWebhookMessageId, WebhookEventType, type EditRecord } from '@step1x/contracts';
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
  ) {}

  async emit(record: EditRecord): Promise<void> {
    if (!record.webhook) return;
    const data = await this.presenter.present(record);
    await this.jobQueue.enqueueWebhook({
      messageId: newWebhookMessageId(),
      tenantId: record.tenantId,
      editId: record.id,
      type: WebhookEventType.EditCompleted,
      url: record.webhook.url,
      body: serializeWebhookEvent(WebhookEventType.EditCompleted, data, this.clock()),
      attempt: 1,
    });
  }
}
