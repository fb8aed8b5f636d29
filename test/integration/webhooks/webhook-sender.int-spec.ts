// WebhookSender over real HTTP to a receiver on 127.0.0.2, through the egress guard with the allowlist the e2e
// tests use. The delivery loop below plays the queue's part: wait for the planned delay, then try again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { EgressGuard } from '@step1x/egress';
import {
  createRetrySchedule,
  generateWebhookSecret,
  newWebhookId,
  serializeWebhookEvent,
  WebhookSender,
  type DeliveryResult,
  type WebhookMessage,
} from '@step1x/webhooks';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver';

const schedule = createRetrySchedule({ delaysMs: [0, 20, 20, 20], jitter: 0 });

async function deliverUntilSettled(sender: WebhookSender, message: WebhookMessage): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  for (let attempt = 1; ; attempt++) {
    const result = await sender.deliver(message, attempt);
    results.push(result);
    if (result.plan.action !== 'retry') return results;
    await new Promise((resolve) => setTimeout(resolve, (result.plan as { delayMs: number }).delayMs));
  }
}

describe('WebhookSender against a receiver on 127.0.0.2', () => {
  let receiver: WebhookReceiver;
  let sender: WebhookSender;
  const guard = new EgressGuard({ allowlist: '127.0.0.2/32' });

  before(async () => {
    receiver = await startWebhookReceiver({ host: '127.0.0.2' });
    sender = new WebhookSender({ guard, schedule, timeoutMs: 1000 });
  });
  after(async () => {
    await receiver?.stop();
  });

  const messageTo = (path: string): WebhookMessage => ({
    webhookId: newWebhookId(),
    url: receiver.urlFor(path),
    secret: generateWebhookSecret(),
    payload: serializeWebhookEvent('edit.completed', { id: `e_${path.slice(1)}`, status: 'succeeded' }, new Date()),
  });
  const requestsTo = (path: string) => receiver.requests.filter((request) => request.path === path);

  it('retries after a 500 with the same webhook-id and a fresh valid signature', async () => {
    receiver.enqueue({ status: 500 }, { status: 200 });
    const message = messageTo('/retry-500');
    const results = await deliverUntilSettled(sender, message);

    assert.deepEqual(
      results.map((result) => [result.record.status, result.plan.action]),
      [
        [500, 'retry'],
        [200, 'done'],
      ],
    );
    const received = requestsTo('/retry-500');
    assert.equal(received.length, 2);
    const verifier = new Webhook(message.secret as string);
    for (const request of received) {
      assert.equal(request.method, 'POST');
      assert.equal(request.headers['webhook-id'], message.webhookId);
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.text, message.payload);
      const headers = request.headers as Record<string, string>;
      assert.deepEqual(verifier.verify(request.body, headers), JSON.parse(message.payload));
    }
    assert.equal(results[0].record.next_retry_at !== null, true);
    assert.deepEqual(
      results.map((result) => result.record.attempt),
      [1, 2],
    );
  });

  it('stops retrying on 410', async () => {
    receiver.enqueue({ status: 410 });
    const results = await deliverUntilSettled(sender, messageTo('/gone'));
    assert.equal(results.length, 1);
    assert.deepEqual(results[0].plan, { action: 'give_up', reason: 'gone' });
    assert.equal(results[0].record.status, 410);
    assert.equal(requestsTo('/gone').length, 1);
  });

  it('does not follow a redirect and counts it as a failed attempt', async () => {
    receiver.enqueue({ status: 302, headers: { location: receiver.urlFor('/redirect-target') } }, { status: 200 });
    const results = await deliverUntilSettled(sender, messageTo('/redirecting'));
    assert.equal(results[0].record.status, 302);
    assert.equal(results[0].record.error?.code, 'unexpected_status');
    assert.equal(results[0].plan.action, 'retry');
    assert.equal(requestsTo('/redirect-target').length, 0, 'the redirect target was never requested');
    assert.equal(requestsTo('/redirecting').length, 2);
  });

  it('waits at least Retry-After before the next attempt', async () => {
    receiver.enqueue({ status: 503, headers: { 'retry-after': '1' } }, { status: 204 });
    const results = await deliverUntilSettled(sender, messageTo('/busy'));
    const plan = results[0].plan;
    assert.equal(plan.action === 'retry' && plan.delayMs, 1000, 'Retry-After: 1 outweighs the 20 ms schedule');
    const [first, second] = requestsTo('/busy');
    assert.ok(second.receivedAt.getTime() - first.receivedAt.getTime() >= 990);
    assert.equal(results[1].record.status, 204);
  });

  it('counts an answer slower than the timeout as a failure', async () => {
    receiver.enqueue({ status: 200, delayMs: 1500 });
    const [result] = await deliverUntilSettled(
      new WebhookSender({ guard, schedule: createRetrySchedule({ delaysMs: [0], jitter: 0 }), timeoutMs: 200 }),
      messageTo('/slow'),
    );
    assert.equal(result.record.status, null);
    assert.equal(result.record.error?.code, 'url_fetch_failed');
    assert.match(result.record.error?.message ?? '', /in time/);
    assert.deepEqual(result.plan, { action: 'give_up', reason: 'exhausted' });
  });

  it('gives up at once on a receiver outside the allowlist, sending nothing', async () => {
    const strictSender = new WebhookSender({ guard: new EgressGuard(), schedule });
    const before = receiver.requests.length;
    const results = await deliverUntilSettled(strictSender, messageTo('/not-allowlisted'));
    assert.equal(results.length, 1);
    assert.deepEqual(results[0].plan, { action: 'give_up', reason: 'not_allowed' });
    assert.equal(results[0].record.error?.code, 'url_not_allowed');
    assert.equal(receiver.requests.length, before);
  });
});
