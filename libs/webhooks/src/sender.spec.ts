// The sender with a fake guard: what it sends and how it records each kind of answer. Real HTTP is covered by
// test/integration/webhooks/webhook-sender.int-spec.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import {
  UrlFetchFailedError,
  UrlNotAllowedError,
  type GuardedRequestOptions,
  type GuardedResponse,
} from '@step1x/egress';
import { createRetrySchedule } from './retry-schedule';
import { WebhookSender, type WebhookMessage } from './sender';
import { generateWebhookSecret, newWebhookId } from './signer';
import { serializeWebhookEvent } from './webhook-event';

interface SentRequest {
  url: string;
  options: GuardedRequestOptions;
}

function fakeGuard(answer: (request: SentRequest) => Partial<GuardedResponse> | Error) {
  const sent: SentRequest[] = [];
  return {
    sent,
    async fetch(url: string | URL, options: GuardedRequestOptions): Promise<GuardedResponse> {
      const request = { url: String(url), options };
      sent.push(request);
      const result = answer(request);
      if (result instanceof Error) throw result;
      return {
        status: 200,
        headers: {},
        body: Buffer.alloc(0),
        truncated: false,
        url: String(url),
        address: '203.0.113.1',
        redirects: 0,
        ...result,
      };
    },
  };
}

const now = new Date('2026-03-01T10:00:00.000Z');
const schedule = createRetrySchedule({ delaysMs: [0, 1000, 2000], jitter: 0 });
const message = (): WebhookMessage => ({
  webhookId: newWebhookId(),
  url: 'https://hooks.example/step1x',
  secret: generateWebhookSecret(),
  payload: serializeWebhookEvent('edit.completed', { id: 'e_1', status: 'succeeded' }, now),
});

describe('WebhookSender', () => {
  it('POSTs the signed payload without following redirects, within the timeout', async () => {
    const guard = fakeGuard(() => ({ status: 204 }));
    const sender = new WebhookSender({ guard, schedule, timeoutMs: 15_000 });
    const msg = message();
    const result = await sender.deliver(msg, 1);

    const [request] = guard.sent;
    assert.equal(request.url, msg.url);
    assert.equal(request.options.method, 'POST');
    assert.equal(request.options.body, msg.payload);
    assert.equal(request.options.followRedirects, false);
    assert.equal(request.options.timeoutMs, 15_000);
    const headers = request.options.headers ?? {};
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['webhook-id'], msg.webhookId);
    assert.deepEqual(new Webhook(msg.secret as string).verify(msg.payload, headers), JSON.parse(msg.payload));

    assert.deepEqual(result.plan, { action: 'done' });
    assert.equal(result.record.status, 204);
    assert.equal(result.record.error, null);
    assert.equal(result.record.next_retry_at, null);
    assert.equal(result.record.attempt, 1);
  });

  it('records a failed status with the time of the next attempt', async () => {
    const sender = new WebhookSender({ guard: fakeGuard(() => ({ status: 500 })), schedule, now: () => now });
    const { record, plan } = await sender.deliver(message(), 1);
    assert.equal(plan.action, 'retry');
    assert.deepEqual(record, {
      attempt: 1,
      at: now.toISOString(),
      status: 500,
      duration_ms: record.duration_ms,
      error: { code: 'unexpected_status', message: 'the receiver answered 500' },
      next_retry_at: new Date(now.getTime() + 1000).toISOString(),
    });
  });

  it('honours Retry-After from the answer', async () => {
    const guard = fakeGuard(() => ({ status: 429, headers: { 'retry-after': '7' } }));
    const { plan } = await new WebhookSender({ guard, schedule, now: () => now }).deliver(message(), 1);
    assert.equal(plan.action === 'retry' && plan.delayMs, 7000);
  });

  it('records a redirect as a failure', async () => {
    const guard = fakeGuard(() => ({ status: 302, headers: { location: 'https://elsewhere.example/' } }));
    const { record, plan } = await new WebhookSender({ guard, schedule }).deliver(message(), 1);
    assert.equal(plan.action, 'retry');
    assert.equal(record.status, 302);
    assert.match(record.error?.message ?? '', /redirects are not followed/);
  });

  it('stops on 410 and on the last attempt', async () => {
    const gone = await new WebhookSender({ guard: fakeGuard(() => ({ status: 410 })), schedule }).deliver(message(), 1);
    assert.deepEqual(gone.plan, { action: 'give_up', reason: 'gone' });
    const last = await new WebhookSender({ guard: fakeGuard(() => ({ status: 503 })), schedule }).deliver(message(), 3);
    assert.deepEqual(last.plan, { action: 'give_up', reason: 'exhausted' });
    assert.equal(last.record.next_retry_at, null);
  });

  it('records guard errors without a status', async () => {
    const timeout = new UrlFetchFailedError('timeout', 'https://hooks.example/', 'no answer in time');
    const failed = await new WebhookSender({ guard: fakeGuard(() => timeout), schedule }).deliver(message(), 2);
    assert.equal(failed.record.status, null);
    assert.deepEqual(failed.record.error, { code: 'url_fetch_failed', message: 'no answer in time' });
    assert.equal(failed.plan.action, 'retry');

    const refused = new UrlNotAllowedError('address', 'https://hooks.example/', 'private', '10.0.0.1');
    const blocked = await new WebhookSender({ guard: fakeGuard(() => refused), schedule }).deliver(message(), 1);
    assert.deepEqual(blocked.plan, { action: 'give_up', reason: 'not_allowed' });
  });

  it('signs every attempt afresh with the same webhook-id', async () => {
    let clock = now;
    const guard = fakeGuard(() => ({ status: 500 }));
    const sender = new WebhookSender({ guard, schedule, now: () => clock });
    const msg = message();
    await sender.deliver(msg, 1);
    clock = new Date(now.getTime() + 5000);
    await sender.deliver(msg, 2);
    const [first, second] = guard.sent.map((request) => request.options.headers ?? {});
    assert.equal(first['webhook-id'], second['webhook-id']);
    assert.equal(Number(second['webhook-timestamp']) - Number(first['webhook-timestamp']), 5);
    assert.notEqual(first['webhook-signature'], second['webhook-signature']);
  });

  it('lets a malformed secret surface as an error instead of a failed attempt', async () => {
    const sender = new WebhookSender({ guard: fakeGuard(() => ({ status: 200 })), schedule });
    await assert.rejects(sender.deliver({ ...message(), secret: 'whsec_short' }, 1), /invalid webhook secret/);
  });
});
