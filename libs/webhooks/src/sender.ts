// Delivers one webhook attempt (CONTRACT.md "Webhooks"): signed per Standard Webhooks, POSTed through the egress
// guard, 2xx within the timeout is success, redirects are not followed. Scheduling the next attempt is the
// queue's job; `deliver` says when (see planNextAttempt).
import { EgressError, type EgressErrorCode, type EgressGuard } from '@step1x/egress';
import {
  DEFAULT_RETRY_SCHEDULE,
  isSuccessStatus,
  parseRetryAfter,
  planNextAttempt,
  type AttemptOutcome,
  type NextAttemptPlan,
  type RetrySchedule,
} from './retry-schedule';
import { buildWebhookHeaders } from './signer';

export const WEBHOOK_TIMEOUT_MS = 15_000;
/** Receivers' answers are not used; read a little for diagnostics, never more. */
const RESPONSE_BYTES_KEPT = 4096;

export interface WebhookMessage {
  /** `msg_<ulid>`, the same for every attempt of one event. */
  webhookId: string;
  url: string;
  /** `whsec_…` of the endpoint; during a rotation's overlap the new and the old one (each signs). */
  secret: string | readonly string[];
  /** The serialized event (serializeWebhookEvent), byte-identical on every attempt. */
  payload: string;
}

/** One attempt as recorded in the store of record (snake_case like the API). */
export interface DeliveryAttempt {
  /** 1-based. */
  attempt: number;
  /** ISO-8601 UTC start of the attempt. */
  at: string;
  /** HTTP status, or null when no response came. */
  status: number | null;
  duration_ms: number;
  error: { code: EgressErrorCode | 'unexpected_status'; message: string } | null;
  /** When the next attempt is due, or null when there is none. */
  next_retry_at: string | null;
}

export interface DeliveryResult {
  record: DeliveryAttempt;
  outcome: AttemptOutcome;
  plan: NextAttemptPlan;
}

export interface WebhookSenderOptions {
  /** Only `fetch` is used, so tests may pass a fake. */
  guard: Pick<EgressGuard, 'fetch'>;
  /** @defaultValue DEFAULT_RETRY_SCHEDULE */
  schedule?: RetrySchedule;
  /** A 2xx must arrive within this. @defaultValue 15000 */
  timeoutMs?: number;
  /** @defaultValue 'step1x-edit-webhooks/1' */
  userAgent?: string;
  /** @defaultValue () => new Date() */
  now?: () => Date;
  /** Jitter source, uniform in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

export class WebhookSender {
  private readonly guard: Pick<EgressGuard, 'fetch'>;
  private readonly schedule: RetrySchedule;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(options: WebhookSenderOptions) {
    this.guard = options.guard;
    this.schedule = options.schedule ?? DEFAULT_RETRY_SCHEDULE;
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? 'step1x-edit-webhooks/1';
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
  }

  /** Makes attempt `attemptNo` (1-based) of `message`. Throws only for a malformed secret. */
  async deliver(message: WebhookMessage, attemptNo: number): Promise<DeliveryResult> {
    const startedAt = this.now();
    const headers = {
      ...buildWebhookHeaders(message.webhookId, message.payload, message.secret, startedAt),
      'content-type': 'application/json',
      'user-agent': this.userAgent,
    };
    const started = performance.now();
    const outcome = await this.post(message, headers);
    const durationMs = Math.round(performance.now() - started);
    const plan = planNextAttempt(outcome, attemptNo, this.schedule, { now: this.now(), random: this.random });
    const record: DeliveryAttempt = {
      attempt: attemptNo,
      at: startedAt.toISOString(),
      status: outcome.kind === 'response' ? outcome.status : null,
      duration_ms: durationMs,
      error: describeFailure(outcome),
      next_retry_at: plan.action === 'retry' ? plan.at.toISOString() : null,
    };
    return { record, outcome, plan };
  }

  private async post(message: WebhookMessage, headers: Record<string, string>): Promise<AttemptOutcome> {
    try {
      const response = await this.guard.fetch(message.url, {
        method: 'POST',
        headers,
        body: message.payload,
        timeoutMs: this.timeoutMs,
        maxBytes: RESPONSE_BYTES_KEPT,
        oversize: 'truncate',
        followRedirects: false,
      });
      return {
        kind: 'response',
        status: response.status,
        retryAfterMs: parseRetryAfter(response.headers['retry-after'], this.now()),
      };
    } catch (error) {
      if (error instanceof EgressError) return { kind: 'error', code: error.code, message: error.message };
      throw error;
    }
  }
}

function describeFailure(outcome: AttemptOutcome): DeliveryAttempt['error'] {
  if (outcome.kind === 'error') return { code: outcome.code, message: outcome.message };
  if (isSuccessStatus(outcome.status)) return null;
  const redirect = outcome.status >= 300 && outcome.status < 400 ? '; redirects are not followed' : '';
  return { code: 'unexpected_status', message: `the receiver answered ${outcome.status}${redirect}` };
}
