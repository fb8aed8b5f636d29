import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRetrySchedule,
  DEFAULT_RETRY_SCHEDULE,
  InvalidRetryScheduleError,
  parseDurationList,
  parseRetryAfter,
  planNextAttempt,
  type AttemptOutcome,
} from './retry-schedule';

const now = new Date('2026-01-01T00:00:00.000Z');
const status = (code: number, retryAfterMs: number | null = null): AttemptOutcome => ({
  kind: 'response',
  status: code,
  retryAfterMs,
});
const noJitter = createRetrySchedule({ jitter: 0 });

describe('DEFAULT_RETRY_SCHEDULE', () => {
  it('is 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with ±20 % jitter', () => {
    assert.deepEqual(DEFAULT_RETRY_SCHEDULE.delaysMs, parseDurationList('0,5s,5m,30m,2h,5h,10h,10h'));
    assert.equal(DEFAULT_RETRY_SCHEDULE.jitter, 0.2);
  });
});

describe('planNextAttempt', () => {
  it('ends on any 2xx', () => {
    for (const code of [200, 201, 202, 204, 299])
      assert.deepEqual(planNextAttempt(status(code), 1), { action: 'done' });
  });

  it('stops on 410 and on a refused URL, whatever attempts remain', () => {
    assert.deepEqual(planNextAttempt(status(410), 1), { action: 'give_up', reason: 'gone' });
    const refused: AttemptOutcome = { kind: 'error', code: 'url_not_allowed', message: 'x' };
    assert.deepEqual(planNextAttempt(refused, 1), { action: 'give_up', reason: 'not_allowed' });
  });

  it('retries 3xx, 4xx, 5xx and network failures on the schedule', () => {
    const failures: AttemptOutcome[] = [
      status(301),
      status(400),
      status(429),
      status(500),
      status(503),
      { kind: 'error', code: 'url_fetch_failed', message: 'ECONNREFUSED' },
    ];
    for (const outcome of failures) {
      const plan = planNextAttempt(outcome, 2, noJitter, { now });
      assert.deepEqual(plan, { action: 'retry', attempt: 3, delayMs: 300_000, at: new Date(now.getTime() + 300_000) });
    }
  });

  it('walks the whole schedule and gives up after the last attempt', () => {
    const delays: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const plan = planNextAttempt(status(500), attempt, noJitter, { now });
      if (plan.action !== 'retry') {
        assert.deepEqual(plan, { action: 'give_up', reason: 'exhausted' });
        assert.equal(attempt, DEFAULT_RETRY_SCHEDULE.delaysMs.length);
        break;
      }
      delays.push(plan.delayMs);
    }
    assert.deepEqual(delays, DEFAULT_RETRY_SCHEDULE.delaysMs.slice(1));
  });

  it('jitters within ±20 %', () => {
    const low = planNextAttempt(status(500), 1, DEFAULT_RETRY_SCHEDULE, { now, random: () => 0 });
    const high = planNextAttempt(status(500), 1, DEFAULT_RETRY_SCHEDULE, { now, random: () => 0.999999 });
    const mid = planNextAttempt(status(500), 1, DEFAULT_RETRY_SCHEDULE, { now, random: () => 0.5 });
    assert.equal(low.action === 'retry' && low.delayMs, 4000);
    assert.equal(high.action === 'retry' && high.delayMs, 6000);
    assert.equal(mid.action === 'retry' && mid.delayMs, 5000);
  });

  it('waits at least Retry-After, capped by the schedule', () => {
    const schedule = createRetrySchedule({ delaysMs: [0, 100, 100], jitter: 0, maxRetryAfterMs: 60_000 });
    const longer = planNextAttempt(status(503, 2000), 1, schedule, { now });
    assert.equal(longer.action === 'retry' && longer.delayMs, 2000);
    const shorter = planNextAttempt(status(429, 10), 1, schedule, { now });
    assert.equal(shorter.action === 'retry' && shorter.delayMs, 100);
    const huge = planNextAttempt(status(503, 3_600_000), 1, schedule, { now });
    assert.equal(huge.action === 'retry' && huge.delayMs, 60_000);
  });

  it('uses a custom schedule for tests', () => {
    const schedule = createRetrySchedule({ delaysMs: parseDurationList('0,50ms,1s'), jitter: 0 });
    const plans = [1, 2, 3].map((attempt) => planNextAttempt(status(500), attempt, schedule, { now }));
    assert.deepEqual(
      plans.map((plan) => (plan.action === 'retry' ? plan.delayMs : plan.action)),
      [50, 1000, 'give_up'],
    );
  });
});

describe('schedule configuration', () => {
  it('parses duration lists', () => {
    assert.deepEqual(parseDurationList('0, 250ms,5s,1.5m,2h,1d,40'), [0, 250, 5000, 90_000, 7_200_000, 86_400_000, 40]);
    for (const bad of ['', '5x', '-1s', 's', '1,,2'])
      assert.throws(() => parseDurationList(bad), InvalidRetryScheduleError, bad);
  });

  it('validates schedules', () => {
    assert.throws(() => createRetrySchedule({ delaysMs: [] }), InvalidRetryScheduleError);
    assert.throws(() => createRetrySchedule({ delaysMs: [0, -5] }), InvalidRetryScheduleError);
    assert.throws(() => createRetrySchedule({ jitter: 1 }), InvalidRetryScheduleError);
    assert.throws(() => createRetrySchedule({ jitter: Number.NaN }), InvalidRetryScheduleError);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(['3'], now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  });

  it('ignores absent or unreadable values', () => {
    for (const value of [undefined, '', 'soon', '-5']) assert.equal(parseRetryAfter(value, now), null);
  });
});
