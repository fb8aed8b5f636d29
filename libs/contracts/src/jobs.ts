import type { WebhookEventType } from './webhook-events';

/** Queues are named for the work (style (c)): the GPU lane queue and the webhook delivery queue. */
export const QueueName = {
  Edit: 'edit',
  Webhook: 'webhook',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/** Jobs are verb-noun. Every name needs exactly one `@OnJob` handler, or the worker refuses to boot. */
export const JobName = {
  EditImage: 'edit-image',
  DeliverWebhook: 'deliver-webhook',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

export const ALL_JOB_NAMES: readonly JobName[] = Object.values(JobName);

/** Which queue carries each job. */
export const JOB_QUEUE: Readonly<Record<JobName, QueueName>> = {
  [JobName.EditImage]: QueueName.Edit,
  [JobName.DeliverWebhook]: QueueName.Webhook,
};

/**
 * Thin on purpose: the edit record in Redis is the store of record and the image lives in S3, so a job carries
 * ids only (never image bytes in Redis; docs/ARCHITECTURE.md). The BullMQ job id is the edit id.
 */
export interface EditImagePayload {
  editId: string;
  tenantId: string;
  /** MODEL_VERSION of the API that queued it: only a worker with these models runs it (docs/DEPLOY.md "Upgrades"). */
  modelVersion?: string;
}

/**
 * One delivery attempt of one webhook event. `body` is the exact JSON text to sign and send, so every retry sends
 * the same bytes under the same `messageId` (`webhook-id`). Each retry is a new job (`<messageId>.<attempt>`),
 * delayed by the sender's retry plan.
 */
export interface DeliverWebhookPayload {
  messageId: string;
  tenantId: string;
  editId: string;
  type: WebhookEventType;
  url: string;
  body: string;
  /** 1-based number of this attempt (as `WebhookSender.deliver` counts); a retry enqueues `plan.attempt`. */
  attempt: number;
  /**
   * Whose delivery log records the attempts (GET /v1/{edits,batches}/{id}/deliveries). Absent: the edit `editId`.
   * A batch's own events (`batch.*`) name their batch here.
   */
  subject?: DeliverySubject;
  /**
   * A replay (POST /v1/edits/{id}/webhooks/replay): one more attempt of a message whose retries may be spent; it is
   * not retried on failure (a client replays again).
   */
  replay?: boolean;
}

/** What a webhook delivery log belongs to. */
export interface DeliverySubject {
  kind: 'edit' | 'batch';
  id: string;
}

export function deliverySubjectOf(payload: Pick<DeliverWebhookPayload, 'editId' | 'subject'>): DeliverySubject {
  return payload.subject ?? { kind: 'edit', id: payload.editId };
}

export interface JobPayloads {
  [JobName.EditImage]: EditImagePayload;
  [JobName.DeliverWebhook]: DeliverWebhookPayload;
}

export type JobPayloadOf<N extends JobName> = JobPayloads[N];

/** Message on the cancel fan-out channel (`<prefix>:edit:cancel`); every worker subscribes. */
export interface CancelEditMessage {
  editId: string;
  requestedAt: string;
}

/** A job that must not be retried (bad input, canceled): the queue adapter turns it into a final failure. */
export class NonRetryableJobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NonRetryableJobError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * This worker may not run the job now but another may (e.g. its models differ from the job's `modelVersion`): the
 * queue adapter puts it back, delayed by `retryAfterMs`, without failing it or counting an attempt.
 */
export class DeferJobError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'DeferJobError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
