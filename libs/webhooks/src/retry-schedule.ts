// When to try a webhook delivery again (the API contract's "Webhooks" section; Svix's published schedule). Pure: the
// queue turns a `retry` plan into a delayed job.
import type { EgressErrorCode } from '@step1x/egress';

export interface RetrySchedule {
  /** Delay before each attempt in ms; entry 0 belongs to the first attempt. Its length is the attempt budget. */
  delaysMs: readonly number[];
  /** Each delay is scaled by a uniform factor in [1 − jitter, 1 + jitter]. */
  jitter: number;
  /** Longest `Retry-After` honoured; a longer one is cut to this. */
  maxRetryAfterMs: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = Object.freeze({
  delaysMs: Object.freeze([0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]),
  jitter: 0.2,
  maxRetryAfterMs: 24 * HOUR,
});

export class InvalidRetryScheduleError extends Error {
  readonly code = 'invalid_config';
  constructor(reason: string) {
    super(`invalid webhook retry schedule: ${reason}`);
    this.name = 'InvalidRetryScheduleError';
  }
}

/** The default schedule with `overrides` applied, validated. */
export function createRetrySchedule(overrides: Partial<RetrySchedule> = {}): RetrySchedule {
  const schedule = { ...DEFAULT_RETRY_SCHEDULE, ...overrides };
  if (schedule.delaysMs.length === 0) throw new InvalidRetryScheduleError('needs at least one attempt');
  if (schedule.delaysMs.some((delay) => !Number.isFinite(delay) || delay < 0)) {
    throw new InvalidRetryScheduleError('delays must be finite and non-negative');
  }
  if (!(schedule.jitter >= 0 && schedule.jitter < 1)) throw new InvalidRetryScheduleError('jitter must be in [0, 1)');
  if (!(schedule.maxRetryAfterMs >= 0)) throw new InvalidRetryScheduleError('maxRetryAfterMs must be >= 0');
  return { ...schedule, delaysMs: [...schedule.delaysMs] };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: 24 * HOUR };

/** Parses a list like `0,5s,5m,30m,2h,5h,10h,10h` (bare numbers are ms) into milliseconds. */
export function parseDurationList(text: string): number[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .map((item) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(item);
      if (!match) throw new InvalidRetryScheduleError(`"${item}" is not a duration like 500ms, 5s, 5m, 2h`);
      return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']);
    });
}

/** `Retry-After` (delta seconds or an HTTP date) as ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | readonly string[] | undefined, now: Date = new Date()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text) * SECOND;
  // HTTP dates name a weekday and month; without letters this is neither form (Date.parse would guess).
  if (!/[a-z]{3}/i.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now.getTime());
}

/** What one delivery attempt came to. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; retryAfterMs: number | null }
  | { kind: 'error'; code: EgressErrorCode; message: string };

export type NextAttemptPlan =
  | { action: 'done' }
  | { action: 'retry'; /** 1-based number of the next attempt */ attempt: number; delayMs: number; at: Date }
  | { action: 'give_up'; reason: 'gone' | 'not_allowed' | 'exhausted' };

export interface PlanOptions {
  /** @defaultValue new Date() */
  now?: Date;
  /** Uniform in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Decides what follows attempt `attemptNo` (1-based): 2xx is done; 410 and a refused URL stop for good; anything
 * else (3xx, 4xx, 5xx, network errors, timeouts) is retried per the schedule, no sooner than `Retry-After`.
 */
export function planNextAttempt(
  outcome: AttemptOutcome,
  attemptNo: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
  options: PlanOptions = {},
): NextAttemptPlan {
  if (outcome.kind === 'response' && isSuccessStatus(outcome.status)) return { action: 'done' };
  if (outcome.kind === 'response' && outcome.status === 410) return { action: 'give_up', reason: 'gone' };
  if (outcome.kind === 'error' && outcome.code === 'url_not_allowed')
    return { action: 'give_up', reason: 'not_allowed' };
  if (attemptNo >= schedule.delaysMs.length) return { action: 'give_up', reason: 'exhausted' };

  const random = options.random ?? Math.random;
  const base = schedule.delaysMs[attemptNo];
  let delayMs = Math.round(base * (1 + schedule.jitter * (2 * random() - 1)));
  if (outcome.kind === 'response' && outcome.retryAfterMs !== null) {
    delayMs = Math.max(delayMs, Math.min(outcome.retryAfterMs, schedule.maxRetryAfterMs));
  }
  const now = options.now ?? new Date();
  return { action: 'retry', attempt: attemptNo + 1, delayMs, at: new Date(now.getTime() + delayMs) };
}
