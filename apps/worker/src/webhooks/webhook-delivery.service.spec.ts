import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CompletedWebhookMessage, DeliverWebhookPayload } from '@step1x/contracts';
import type { DeliveryLogEntry } from '@step1x/edit-store';
import type { DeliveryResult, WebhookMessage } from '@step1x/webhooks';
import { WebhookDeliveryService } from './webhook-delivery.service';

const PAYLOAD: DeliverWebhookPayload = {
  messageId: 'msg_01JTESTTESTTESTTESTTESTTES',
  tenantId: 'acme',
  editId: 'edit_01JTESTTESTTESTTESTTESTTES',
  type: 'edit.started',
  url: 'http://127.0.0.2:9/hook',
  body: '{"type":"edit.started"}',
  attempt: 1,
};

function setup(
  result: (attempt: number) => Omit<DeliveryResult, 'record'> & { status: number | null },
  options: { previousSecret?: string; freshBody?: string | null } = {},
) {
  const sent: Array<{ message: WebhookMessage; attempt: number }> = [];
  const logged: Array<{ editId: string; entry: DeliveryLogEntry }> = [];
  const queued: Array<{ payload: DeliverWebhookPayload; delayMs?: number }> = [];
  const states: string[] = [];
  const completed: CompletedWebhookMessage[] = [];
  const secrets = new Map<string, string>();
  const service = new WebhookDeliveryService({
    secrets: {
      signingSecrets: async (tenant, create) => {
        if (!secrets.has(tenant)) secrets.set(tenant, create());
        return options.previousSecret ? [secrets.get(tenant)!, options.previousSecret] : [secrets.get(tenant)!];
      },
    },
    sender: {
      deliver: async (message, attempt) => {
        sent.push({ message, attempt });
        const { status, ...rest } = result(attempt);
        const next_retry_at = rest.plan.action === 'retry' ? rest.plan.at.toISOString() : null;
        return {
          ...rest,
          record: { attempt, at: new Date(0).toISOString(), status, duration_ms: 3, error: null, next_retry_at },
        };
      },
    },
    deliveries: { record: async (subject, entry) => void logged.push({ editId: subject.id, entry }) },
    queue: { enqueueWebhook: async (payload, options) => void queued.push({ payload, delayMs: options?.delayMs }) },
    state: {
      recordAttempt: async (_editId, status) => void states.push(status),
      rememberCompleted: async (_editId, message) => void completed.push(message),
      beginReplay: async () => null,
    },
    completedBodies: { render: async () => options.freshBody ?? null },
  });
  return { service, sent, logged, queued, secrets, states, completed };
}

describe('WebhookDeliveryService', () => {
  it('signs with the tenant secret (created on first use), records the attempt, stops on success', async () => {
    const s = setup(() => ({
      status: 204,
      outcome: { kind: 'response', status: 204, retryAfterMs: null },
      plan: { action: 'done' },
    }));
    assert.deepEqual(await s.service.deliver(PAYLOAD), { status: 204, next: 'done' });
    assert.match(s.secrets.get('acme')!, /^whsec_/);
    assert.deepEqual(s.sent[0].message.secret, [s.secrets.get('acme')]);
    assert.equal(s.sent[0].message.webhookId, PAYLOAD.messageId);
    assert.equal(s.sent[0].message.payload, PAYLOAD.body);
    assert.equal(s.logged[0].editId, PAYLOAD.editId);
    assert.equal(s.logged[0].entry.message_id, PAYLOAD.messageId);
    assert.equal(s.logged[0].entry.type, 'edit.started');
    assert.equal(s.logged[0].entry.status, 204);
    assert.equal(s.queued.length, 0);
  });

  it('queues the next attempt with the same message id and body, delayed as planned', async () => {
    const at = new Date(5000);
    const s = setup(() => ({
      status: 500,
      outcome: { kind: 'response', status: 500, retryAfterMs: null },
      plan: { action: 'retry', attempt: 2, delayMs: 5000, at },
    }));
    assert.deepEqual(await s.service.deliver(PAYLOAD), { status: 500, next: 'retry' });
    assert.equal(s.queued.length, 1);
    assert.deepEqual(s.queued[0].payload, { ...PAYLOAD, attempt: 2 });
    assert.equal(s.queued[0].delayMs, 5000);
  });

  it('gives up without queuing when the plan says so', async () => {
    const s = setup(() => ({
      status: 410,
      outcome: { kind: 'response', status: 410, retryAfterMs: null },
      plan: { action: 'give_up', reason: 'gone' },
    }));
    assert.deepEqual(await s.service.deliver({ ...PAYLOAD, attempt: 3 }), { status: 410, next: 'give_up' });
    assert.equal(s.sent[0].attempt, 3);
    assert.equal(s.queued.length, 0);
    assert.equal(s.logged.length, 1);
  });

  it('signs with the new and the old secret during a rotation', async () => {
    const old = 'whsec_old';
    const s = setup(() => ({ status: 204, outcome: { kind: 'response', status: 204, retryAfterMs: null }, plan: { action: 'done' } }), { previousSecret: old }); // prettier-ignore
    await s.service.deliver(PAYLOAD);
    assert.deepEqual(s.sent[0].message.secret, [s.secrets.get('acme'), old]);
    assert.deepEqual(s.states, ['pending'], 'an edit.started delivered leaves the edit pending');
  });

  it('sends edit.completed with a body rendered at this attempt, remembers it, and marks the edit delivered', async () => {
    const completedPayload: DeliverWebhookPayload = {
      ...PAYLOAD,
      type: 'edit.completed',
      body: '{"type":"edit.completed","timestamp":"2026-01-02T03:04:05.000Z","data":{}}',
      attempt: 2,
    };
    const fresh = '{"type":"edit.completed","timestamp":"2026-01-02T03:04:05.000Z","data":{"fresh":true}}';
    const s = setup(() => ({ status: 200, outcome: { kind: 'response', status: 200, retryAfterMs: null }, plan: { action: 'done' } }), { freshBody: fresh }); // prettier-ignore
    await s.service.deliver(completedPayload);
    assert.equal(s.sent[0].message.payload, fresh);
    assert.deepEqual(s.completed, [
      { messageId: PAYLOAD.messageId, eventAt: '2026-01-02T03:04:05.000Z', lastAttempt: 2 },
    ]);
    assert.deepEqual(s.states, ['delivered']);
  });

  it('does not retry a failed replay, and marks the edit failed', async () => {
    const s = setup(() => ({
      status: 500,
      outcome: { kind: 'response', status: 500, retryAfterMs: null },
      plan: { action: 'retry', attempt: 6, delayMs: 5000, at: new Date(5000) },
    }));
    const outcome = await s.service.deliver({ ...PAYLOAD, type: 'edit.completed', attempt: 5, replay: true });
    assert.deepEqual(outcome, { status: 500, next: 'give_up' });
    assert.equal(s.queued.length, 0);
    assert.equal(s.logged[0].entry.next_retry_at, null);
    assert.deepEqual(s.states, ['failed']);
  });
});
