import { deliverySubjectOf, WebhookEventType, type DeliverWebhookPayload } from '@step1x/contracts';
import type { DeliveryLog, WebhookDeliveryStatus, WebhookSecretStore, WebhookStateStore } from '@step1x/edit-store';
import type { JobQueue } from '@step1x/job-queue';
import { generateWebhookSecret, type NextAttemptPlan, type WebhookSender } from '@step1x/webhooks';
import { SILENT_LOGGER, type WorkerLogger } from '../worker-logger';

export interface WebhookDeliveryOutcome {
  /** HTTP status of this attempt, or null when no answer came. */
  status: number | null;
  next: NextAttemptPlan['action'];
}

/** Renders an `edit.completed` body afresh for one attempt (completed-event-body.ts); null when the edit is gone. */
export interface CompletedBodyRenderer {
  render(editId: string, eventAt: Date): Promise<string | null>;
}

export interface WebhookDeliveryDeps {
  secrets: Pick<WebhookSecretStore, 'signingSecrets'>;
  sender: Pick<WebhookSender, 'deliver'>;
  deliveries: Pick<DeliveryLog, 'record'>;
  queue: Pick<JobQueue, 'enqueueWebhook'>;
  /** `webhook` on the edit object and the last `edit.completed`, for replays. */
  state: WebhookStateStore;
  completedBodies: CompletedBodyRenderer;
  logger?: WorkerLogger;
}

/**
 * One delivery attempt of one event: sign with the tenant's secrets (two during a rotation's overlap), POST through
 * the egress guard (the sender), record the attempt and the edit's `webhook` state, and queue the next attempt when
 * the plan says so. A failed delivery is an outcome, not an error: the retry schedule belongs to the sender, so
 * the queue must not retry on top of it.
 */
export class WebhookDeliveryService {
  private readonly logger: WorkerLogger;

  constructor(private readonly deps: WebhookDeliveryDeps) {
    this.logger = deps.logger ?? SILENT_LOGGER;
  }

  async deliver(payload: DeliverWebhookPayload): Promise<WebhookDeliveryOutcome> {
    const subject = deliverySubjectOf(payload);
    const isEditCompleted = subject.kind === 'edit' && payload.type === WebhookEventType.EditCompleted;
    const eventAt = isEditCompleted ? eventTimeOf(payload) : null;
    // A tenant who never asked for the secret gets one now; GET /v1/webhooks/secret then returns the same one.
    const secret = await this.deps.secrets.signingSecrets(payload.tenantId, generateWebhookSecret);
    // CONTRACT.md "Webhook operations": the output URL of a `completed` delivery is signed at this attempt, so a
    // late retry or a replay carries a URL that still works (the event's own timestamp does not change).
    const body = (eventAt && (await this.deps.completedBodies.render(subject.id, eventAt))) || payload.body;
    if (isEditCompleted && eventAt) {
      await this.deps.state.rememberCompleted(subject.id, {
        messageId: payload.messageId,
        eventAt: eventAt.toISOString(),
        lastAttempt: payload.attempt,
      });
    }
    const result = await this.deps.sender.deliver(
      { webhookId: payload.messageId, url: payload.url, secret, payload: body },
      payload.attempt,
    );
    // A replay is one more attempt, not a new retry series: when it fails the client may replay again.
    const plan: NextAttemptPlan =
      payload.replay && result.plan.action === 'retry' ? { action: 'give_up', reason: 'exhausted' } : result.plan;
    const record = plan === result.plan ? result.record : { ...result.record, next_retry_at: null };
    await this.deps.deliveries.record(subject, { message_id: payload.messageId, type: payload.type, ...record });
    if (subject.kind === 'edit') {
      await this.deps.state.recordAttempt(subject.id, webhookStatusAfter(isEditCompleted, plan));
    }
    if (plan.action === 'retry') {
      await this.deps.queue.enqueueWebhook({ ...payload, attempt: plan.attempt }, { delayMs: plan.delayMs });
    } else if (plan.action === 'give_up') {
      this.logger.warn(`${payload.type} ${payload.messageId} for ${subject.id}: giving up (${plan.reason})`);
    }
    return { status: record.status, next: plan.action };
  }
}

/**
 * `webhook.status` after an attempt: delivered once `edit.completed` arrived; failed once any event's retries are
 * spent (a later success of `edit.completed` still makes it delivered); otherwise still pending.
 */
export function webhookStatusAfter(
  isEditCompleted: boolean,
  plan: NextAttemptPlan,
): Exclude<WebhookDeliveryStatus, 'none'> {
  if (plan.action === 'give_up') return 'failed';
  if (plan.action === 'done' && isEditCompleted) return 'delivered';
  return 'pending';
}

/** The event's `timestamp` from the queued body (or now, for a body that does not carry one). */
function eventTimeOf(payload: DeliverWebhookPayload): Date {
  try {
    const parsed = JSON.parse(payload.body) as { timestamp?: unknown };
    const at = typeof parsed.timestamp === 'string' ? new Date(parsed.timestamp) : null;
    if (at && !Number.isNaN(at.getTime())) return at;
  } catch {
    // not JSON: every body we queue is, so this is a foreign job; sign what it carries
  }
  return new Date();
}
