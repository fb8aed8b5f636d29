import type { DeliverWebhookPayload } from '@step1x/contracts';
import type { DeliveryLog, WebhookSecretStore } from '@step1x/edit-store';
import type { JobQueue } from '@step1x/job-queue';
import { generateWebhookSecret, type NextAttemptPlan, type WebhookSender } from '@step1x/webhooks';
import { SILENT_LOGGER, type WorkerLogger } from '../worker-logger';

export interface WebhookDeliveryOutcome {
  /** HTTP status of this attempt, or null when no answer came. */
  status: number | null;
  next: NextAttemptPlan['action'];
}

/**
 * One delivery attempt of one event: sign with the tenant's secret, POST through the egress guard (the sender),
 * record the attempt, and queue the next attempt when the plan says so. A failed delivery is an outcome, not an
 * error: the retry schedule belongs to the sender, so the queue must not retry on top of it.
 */
export class WebhookDeliveryService {
  constructor(
    private readonly secrets: Pick<WebhookSecretStore, 'getOrCreate'>,
    private readonly sender: Pick<WebhookSender, 'deliver'>,
    private readonly deliveries: DeliveryLog,
    private readonly queue: Pick<JobQueue, 'enqueueWebhook'>,
    private readonly logger: WorkerLogger = SILENT_LOGGER,
  ) {}

  async deliver(payload: DeliverWebhookPayload): Promise<WebhookDeliveryOutcome> {
    // A tenant who never asked for the secret gets one now; GET /v1/webhooks/secret then returns the same one.
    const secret = await this.secrets.getOrCreate(payload.tenantId, generateWebhookSecret);
    const result = await this.sender.deliver(
      { webhookId: payload.messageId, url: payload.url, secret, payload: payload.body },
      payload.attempt,
    );
    await this.deliveries.record(payload.editId, {
      message_id: payload.messageId,
      type: payload.type,
      ...result.record,
    });
    const { plan } = result;
    if (plan.action === 'retry') {
      await this.queue.enqueueWebhook({ ...payload, attempt: plan.attempt }, { delayMs: plan.delayMs });
    } else if (plan.action === 'give_up') {
      this.logger.warn(`${payload.type} ${payload.messageId} for ${payload.editId}: giving up (${plan.reason})`);
    }
    return { status: result.record.status, next: plan.action };
  }
}
