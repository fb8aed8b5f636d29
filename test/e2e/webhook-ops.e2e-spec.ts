import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject, WebhookEvent } from '@step1x/contracts';
import type { ReceivedRequest } from '../support/webhook-receiver';
import {
  downloadImage,
  isTerminal,
  multipartOf,
  pngOf,
  startServiceStack,
  verifiedEvent,
  waitForEdit,
  type ServiceStack,
} from './service-harness';

interface DeliveryView {
  webhook_id: string;
  type: string;
  attempt: number;
  status_code: number | null;
  error: { code: string; message: string } | null;
  duration_ms: number;
  at: string;
  next_attempt_at: string | null;
}

const DELIVERY_KEYS = ['at', 'attempt', 'duration_ms', 'error', 'next_attempt_at', 'status_code', 'type', 'webhook_id'];

/**
 * Webhook operations (CONTRACT.md "Webhook operations") through real processes: the API and a worker on the tiny
 * models, a receiver on 127.0.0.2, deliveries verified with the public `standardwebhooks` library. The retry
 * schedule is the harness's (0, 300 ms, 300 ms, 300 ms: four attempts).
 */
describe('webhook operations (e2e)', () => {
  let stack: ServiceStack;
  let png: Buffer;
  /** Paths whose deliveries are answered 500 until removed. */
  const failing = new Set<string>();

  before(async () => {
    stack = await startServiceStack();
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    png = await pngOf(64, 48);
    stack.receiver.setResponder((request) =>
      failing.has(request.path) ? { status: 500, body: 'down for maintenance' } : { status: 204 },
    );
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = async (fields: Record<string, string>, tenant: 'acme' | 'globex' = 'acme') => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      tenant,
      body: multipartOf({ instruction: 'make it blue', steps: '2', ...fields }, { bytes: png, type: 'image/png' }),
    });
    assert.equal(response.status, 202, await response.clone().text());
    return (await response.json()) as EditObject;
  };
  const deliveriesOf = async (editId: string, tenant: 'acme' | 'globex' = 'acme') => {
    const response = await stack.call(`/v1/edits/${editId}/deliveries`, { tenant });
    assert.equal(response.status, 200);
    return ((await response.json()) as { data: DeliveryView[] }).data;
  };
  const getEdit = async (editId: string) => (await (await stack.call(`/v1/edits/${editId}`)).json()) as EditObject;
  const completedAt = (path: string) => (requests: readonly ReceivedRequest[]) =>
    requests.filter((r) => r.path === path && r.text.includes('"edit.completed"'));
  async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('after a rotation, deliveries carry both signatures and verify with the old and with the new secret', async () => {
    const old = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
    const before = Date.now();
    const rotation = await stack.call('/v1/webhooks/secret/rotate', { method: 'POST' });
    assert.equal(rotation.status, 200);
    const rotated = (await rotation.json()) as { secret: string; previous_expires_at: string | null };
    assert.match(rotated.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(rotated.secret, old);
    const expiresIn = Date.parse(rotated.previous_expires_at ?? '') - before;
    assert.ok(Math.abs(expiresIn - 86_400_000) < 60_000, `old secret kept 24 h, got ${expiresIn} ms`);
    const current = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
    assert.equal(current, rotated.secret, 'GET /v1/webhooks/secret answers the new secret');

    const hook = '/hooks/rotation';
    const edit = await submit({ webhook_url: stack.receiver.urlFor(hook) });
    assert.deepEqual(edit.webhook, { url: stack.receiver.urlFor(hook), status: 'pending', attempts: 0 });
    const [delivery] = completedAt(hook)(await stack.receiver.waitFor((r) => completedAt(hook)(r).length > 0, 60_000));
    const signatures = String(delivery.headers['webhook-signature']).split(' ');
    assert.equal(signatures.length, 2, 'v1,<new> v1,<old>');
    const withNew = verifiedEvent(rotated.secret, delivery);
    const withOld = verifiedEvent(old, delivery);
    assert.deepEqual(withNew, withOld);
    assert.equal(withNew.data.status, 'succeeded');
    assert.equal((await downloadImage(withNew.data.output!.url)).format, 'png');
    // Every event of the edit (started, progress…, completed) was signed with both.
    for (const request of stack.receiver.requests.filter((r) => r.path === hook)) {
      verifiedEvent(old, request);
      verifiedEvent(rotated.secret, request);
    }
    const settled = await until('webhook.status delivered', async () => {
      const now = await getEdit(edit.id);
      return now.webhook.status === 'delivered' && now;
    });
    const log = await deliveriesOf(edit.id);
    assert.equal(settled.webhook.attempts, log.length, 'webhook.attempts counts every attempt');
    assert.ok(log.length >= 3, 'started, progress, completed');
    for (const entry of log) assert.deepEqual(Object.keys(entry).sort(), DELIVERY_KEYS);
  });

  it('replays edit.completed under the same webhook-id after every retry was spent; the log shows each attempt', async () => {
    const hook = '/hooks/failing';
    failing.add(hook);
    const edit = await submit({ webhook_url: stack.receiver.urlFor(hook), webhook_events: 'completed' });
    await waitForEdit(stack, edit.id, isTerminal, 60_000);
    const failed = await until('webhook.status failed', async () => {
      const now = await getEdit(edit.id);
      return now.webhook.status === 'failed' && now;
    });
    const spent = await deliveriesOf(edit.id);
    assert.deepEqual(
      spent.map((d) => [d.type, d.attempt, d.status_code, d.error?.code ?? null]),
      [1, 2, 3, 4].map((attempt) => ['edit.completed', attempt, 500, 'unexpected_status']),
    );
    assert.equal(new Set(spent.map((d) => d.webhook_id)).size, 1, 'one message, four attempts');
    assert.ok(spent.slice(0, 3).every((d) => d.next_attempt_at !== null));
    assert.equal(spent[3].next_attempt_at, null, 'retries spent');
    assert.equal(failed.webhook.attempts, 4);
    const bodies = completedAt(hook)(stack.receiver.requests).map((r) => JSON.parse(r.text) as WebhookEvent);
    const firstBody = bodies[0];
    // Each retry carries an output URL signed at that attempt (≥ 900 ms later than the first), same event otherwise.
    assert.equal(bodies.length, 4);
    assert.ok(Date.parse(bodies[3].data.output!.expires_at) > Date.parse(firstBody.data.output!.expires_at));
    assert.ok(bodies.every((body) => body.timestamp === firstBody.timestamp));

    failing.delete(hook);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the replay's URL is signed in a later second
    const replay = await stack.call(`/v1/edits/${edit.id}/webhooks/replay`, { method: 'POST' });
    assert.equal(replay.status, 202);
    assert.deepEqual(await replay.json(), { webhook_id: spent[0].webhook_id, type: 'edit.completed', attempt: 5 });
    const delivered = await stack.receiver.waitFor((r) => completedAt(hook)(r).length >= 5, 15_000);
    const replayed = completedAt(hook)(delivered)[4];
    assert.equal(replayed.headers['webhook-id'], spent[0].webhook_id, 'same webhook-id');
    const secret = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
    const event = verifiedEvent(secret, replayed);
    assert.equal(event.timestamp, firstBody.timestamp, 'the same event');
    assert.notEqual(event.data.output!.url, firstBody.data.output!.url, 'output URL signed at the replay');
    assert.ok(Date.parse(event.data.output!.expires_at) > Date.parse(firstBody.data.output!.expires_at));
    await downloadImage(event.data.output!.url);

    const settled = await until('webhook.status delivered', async () => {
      const now = await getEdit(edit.id);
      return now.webhook.status === 'delivered' && now;
    });
    assert.equal(settled.webhook.attempts, 5);
    const log = await deliveriesOf(edit.id);
    assert.deepEqual(
      log.map((d) => [d.attempt, d.status_code]),
      [
        [1, 500],
        [2, 500],
        [3, 500],
        [4, 500],
        [5, 204],
      ],
    );
  });

  it('refuses a replay with nothing to replay (409 not_replayable) and hides other tenants’ edits (404)', async () => {
    const plain = await submit({});
    assert.deepEqual(plain.webhook, { url: null, status: 'none', attempts: 0 });
    const noHook = await stack.call(`/v1/edits/${plain.id}/webhooks/replay`, { method: 'POST' });
    assert.equal(noHook.status, 409);
    assert.equal(((await noHook.json()) as { error: { code: string } }).error.code, 'not_replayable');
    assert.deepEqual(await deliveriesOf(plain.id), []);

    const theirs = await submit({ webhook_url: stack.receiver.urlFor('/hooks/globex') }, 'globex');
    for (const [path, method] of [
      [`/v1/edits/${theirs.id}/deliveries`, 'GET'],
      [`/v1/edits/${theirs.id}/webhooks/replay`, 'POST'],
      ['/v1/edits/edit_01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveries', 'GET'],
    ]) {
      const response = await stack.call(path, { method });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
    }
    // globex's own edit, not finished yet or finished, is replayable only once its edit.completed was sent.
    await waitForEdit(stack, theirs.id, isTerminal, 60_000, 'globex');
    await until('globex completed delivered', async () => completedAt('/hooks/globex')(stack.receiver.requests)[0]);
    const ok = await stack.call(`/v1/edits/${theirs.id}/webhooks/replay`, { method: 'POST', tenant: 'globex' });
    assert.equal(ok.status, 202);
  });
});
