import { JobName, MESSAGE_ID_PATTERN, NonRetryableJobError, type DeliverWebhookPayload } from '@step1x/contracts';
import { OnJob } from '@step1x/job-queue';
import type { WebhookDeliveryOutcome, WebhookDeliveryService } from '../webhooks/webhook-delivery.service';

export function parseDeliverWebhookPayload(data: unknown): DeliverWebhookPayload {
  const p = data as Partial<DeliverWebhookPayload> | null;
  const valid =
    typeof p?.messageId === 'string' &&
    MESSAGE_ID_PATTERN.test(p.messageId) &&
    typeof p.tenantId === 'string' &&
    typeof p.editId === 'string' &&
    typeof p.type === 'string' &&
    typeof p.url === 'string' &&
    typeof p.body === 'string' &&
    Number.isInteger(p.attempt) &&
    (p.attempt as number) >= 1;
  if (!valid) {
    throw new NonRetryableJobError('invalid_job_payload', `not a ${JobName.DeliverWebhook} payload`);
  }
  return p as DeliverWebhookPayload;
}

/** `deliver-webhook` jobs: parse, make one delivery attempt, report it. */
export class DeliverWebhookHandler {
  constructor(private readonly delivery: WebhookDeliveryService) {}

  @OnJob({ name: JobName.DeliverWebhook })
  handle(data: DeliverWebhookPayload): Promise<WebhookDeliveryOutcome> {
    return this.delivery.deliver(parseDeliverWebhookPayload(data));
  }
}
