import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from 'ioredis';
import type { EditObject } from '@step1x/contracts';
import { RedisKeys } from '@step1x/edit-store';
import { BullmqJobQueue } from '@step1x/job-queue';
import {
  multipartOf,
  pngOf,
  startServiceStack,
  verifiedEvent,
  waitForEdit,
  type ServiceProcess,
  type ServiceStack,
} from './service-harness';

/**
 * The service as real processes (API ROLE=api, a worker ROLE=worker on the tiny pipeline) on a real local 3-master
 * Redis Cluster (REDIS_CLUSTER=true, REDIS_URL one seed node): the paths that touch several keys at once (accept,
 * cancel, idempotency, listing, the worker's start-up reconciliation, BullMQ's scripts, the cancel bus) must all
 * run there as on one node (docs/DEPLOY.md "Redis Cluster").
 */
describe('service on a Redis Cluster (e2e)', () => {
  let stack: ServiceStack;
  let keys: RedisKeys;
  let png: Buffer;
  let worker: ServiceProcess;
  /** Accepted before any worker ran: its job is dropped to stand in for an acceptance that crashed after the record. */
  let orphan: EditObject;
  /** Accepted and canceled while queued, before any worker ran. */
  let canceledWhileQueued: EditObject;
  const ours: string[] = [];

  const submit = async (fields: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      headers,
      body: multipartOf({ instruction: 'make it blue', steps: '2', ...fields }, { bytes: png, type: 'image/png' }),
    });
    const edit = (await response.json()) as EditObject;
    if (response.status === 202 && !ours.includes(edit.id)) ours.push(edit.id);
    return { response, edit };
  };

  before(async () => {
    stack = await startServiceStack({}, { redisCluster: true });
    keys = new RedisKeys(stack.keyPrefix);
    png = await pngOf(80, 60);
    stack.receiver.setResponder(() => ({ status: 204 }));

    orphan = (await submit()).edit;
    const queue = new BullmqJobQueue({ connection: stack.redisClient, keys });
    try {
      assert.equal(await queue.removeQueuedEdit(orphan.id), 'removed');
    } finally {
      await queue.close();
    }
    // Older than the reconciler's 60 s grace for acceptances in flight.
    await stack.redisClient.zadd(keys.activeEdits(), Date.now() - 120_000, orphan.id);

    canceledWhileQueued = (await submit()).edit;
    const cancel = await stack.call(`/v1/edits/${canceledWhileQueued.id}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 200);
    assert.equal(((await cancel.json()) as EditObject).status, 'canceled');

    worker = await stack.startWorker();
  });
  after(async () => {
    await stack?.stop();
  });

  it('keeps every key of ours in the slot of the hash tag, on the node that owns it', async () => {
    const tagSlot = await stack.redisClient.cluster('KEYSLOT', keys.prefix);
    let count = 0;
    for (const node of (stack.redisClient as Cluster).nodes('master')) {
      for (const key of await node.keys('*')) {
        count++;
        assert.equal(await node.cluster('KEYSLOT', key), tagSlot, `${key} is in the slot of ${keys.prefix}`);
      }
    }
    assert.ok(count > 10, `${count} keys`);
  });

  it("the worker's start-up reconciliation queued the orphaned edit again, and a worker ran it", async () => {
    await worker.waitForOutput(/reconciled edits and queue: .*"requeued":1/, 5_000);
    const { edit } = await waitForEdit(stack, orphan.id, (e) => e.status === 'succeeded', 60_000);
    assert.equal(edit.output?.format, 'png');
  });

  it('submit → succeeded with a signed edit.completed webhook', async () => {
    const secret = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
    const hook = '/hooks/cluster';
    const { response, edit } = await submit({ webhook_url: stack.receiver.urlFor(hook), webhook_events: 'completed' });
    assert.equal(response.status, 202);
    const { statuses } = await waitForEdit(stack, edit.id, (e) => e.status === 'succeeded', 60_000);
    assert.equal(statuses.at(-1), 'succeeded');
    const [delivery] = (
      await stack.receiver.waitFor((all) => all.some((r) => r.path === hook && r.text.includes(edit.id)), 15_000)
    ).filter((r) => r.path === hook);
    const event = verifiedEvent(secret, delivery);
    assert.equal(event.type, 'edit.completed');
    assert.equal(event.data.id, edit.id);
    assert.equal(event.data.status, 'succeeded');
  });

  it('a queued cancel stayed canceled: the worker never ran it', async () => {
    const response = await stack.call(`/v1/edits/${canceledWhileQueued.id}`);
    const edit = (await response.json()) as EditObject;
    assert.equal(edit.status, 'canceled');
    assert.equal(edit.started_at, null);
    assert.equal(await stack.redisClient.exists(`${keys.bullPrefix()}:edit:${canceledWhileQueued.id}`), 0);
  });

  it('replays an idempotent request with the first edit and status', async () => {
    const headers = { 'idempotency-key': 'cluster-replay-1' };
    const first = await submit({ seed: '7' }, headers);
    const again = await submit({ seed: '7' }, headers);
    assert.equal(first.response.status, 202);
    assert.equal(again.response.status, 202);
    assert.equal(again.edit.id, first.edit.id);
    const conflict = await submit({ seed: '8' }, headers);
    assert.equal(conflict.response.status, 409);
    await waitForEdit(stack, first.edit.id, (e) => e.status === 'succeeded', 60_000);
  });

  it('pages the tenant list newest first with a keyset cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const response = await stack.call(`/v1/edits${query}`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { data: EditObject[]; next_cursor: string | null };
      assert.ok(body.data.length <= 2);
      seen.push(...body.data.map((e) => e.id));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, [...ours].reverse());
  });
});
