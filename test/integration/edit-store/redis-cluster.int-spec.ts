// The store of record on a real local 3-master Redis Cluster: every key we write lands in the one slot of our hash
// tag, a node that does not own that slot answers MOVED for them (so the cluster client, not luck, routes us), and
// each store's multi-key path (transition script, create MULTI, list pipeline, idempotency scripts) runs there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import {
  closeRedisClient,
  createRedisConnection,
  RedisApiKeyStore,
  RedisDeliveryLog,
  RedisEditRepository,
  RedisIdempotencyStore,
  RedisKeys,
  RedisUploadStore,
  RedisWebhookSecretStore,
  type EditListPosition,
} from '@step1x/edit-store';
import { BullmqJobQueue } from '@step1x/job-queue';
import { makeRecord } from '../../support/edit-records';
import { startRedisCluster, type RedisClusterHandle } from '../../support/redis-server';

describe('edit-store and the job queue on a Redis Cluster (real 3-master cluster)', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;
  let keys: RedisKeys;

  before(async () => {
    cluster = await startRedisCluster();
    const client = createRedisConnection({ url: cluster.url, cluster: true });
    assert.ok(client instanceof Cluster, 'REDIS_CLUSTER=true opens an ioredis Cluster');
    redis = client;
    keys = new RedisKeys(`c${randomUUID().slice(0, 8)}`);
  });
  after(async () => {
    if (redis) await closeRedisClient(redis);
    await cluster?.stop();
  });

  it('is a real cluster: three masters, each owning a share of the 16384 slots', async () => {
    const slots = await redis.cluster('SLOTS');
    const owners = new Set(slots.map((range) => range[2]?.[1]));
    assert.equal(owners.size, 3);
    assert.equal(
      slots.reduce((sum, [from, to]) => sum + to - from + 1, 0),
      16_384,
    );
  });

  it('runs every store path there, and every key it wrote shares the slot of the hash tag', async () => {
    const repo = new RedisEditRepository(redis, keys, { retentionDays: 1 });
    const now = Date.now();
    const records = [0, 1, 2, 3, 4].map((i) => makeRecord('acme', now - 10_000 + i));
    for (const record of records) await repo.create(record);
    // List paging (a pipeline of HGETALLs per page) in two pages.
    const first = await repo.list('acme', { statuses: [], limit: 3, after: null });
    assert.deepEqual(
      first.records.map((r) => r.id),
      records
        .slice(2)
        .reverse()
        .map((r) => r.id),
    );
    const second = await repo.list('acme', { statuses: [], limit: 3, after: first.next as EditListPosition });
    assert.deepEqual(
      second.records.map((r) => r.id),
      records
        .slice(0, 2)
        .reverse()
        .map((r) => r.id),
    );
    assert.equal(second.next, null);
    // The transition script (edit hash + active index) into running, then terminal.
    assert.ok((await repo.markRunning(records[0].id, 1, new Date())).applied);
    assert.ok((await repo.markCanceled(records[0].id, new Date())).applied);
    assert.ok((await repo.cancelQueued(records[1].id, new Date())).applied);
    const active = await repo.activeEditIds(new Date(), 10);
    assert.deepEqual(new Set(active), new Set(records.slice(2).map((r) => r.id)));

    const idempotency = new RedisIdempotencyStore(redis, keys, 60);
    const begun = await idempotency.begin('acme', 'key-1', records[2].id);
    assert.equal(begun.state, 'started');
    if (begun.state === 'started') {
      await idempotency.complete('acme', 'key-1', begun.token, {
        requestHash: 'h',
        editId: records[2].id,
        statusCode: 202,
      });
    }
    assert.equal((await idempotency.begin('acme', 'key-1', 'edit_other')).state, 'done');
    await new RedisApiKeyStore(redis, keys).seed([{ tenantId: 'acme', key: 'sk_cluster_1' }]);
    assert.equal(await new RedisApiKeyStore(redis, keys).tenantForKey('sk_cluster_1'), 'acme');
    const secret = await new RedisWebhookSecretStore(redis, keys).getOrCreate('acme', () => 'whsec_cluster');
    assert.equal(secret, 'whsec_cluster');
    await new RedisDeliveryLog(redis, keys, 1).record(
      { kind: 'edit', id: records[2].id },
      {
        message_id: 'msg_1',
        type: 'edit.completed',
        attempt: 1,
        at: new Date().toISOString(),
        status: 200,
        duration_ms: 5,
        error: null,
        next_retry_at: null,
      },
    );
    await new RedisUploadStore(redis, keys).remember('uploads/acme/x', {
      tenantId: 'acme',
      contentType: 'image/png',
      size: 10,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const queue = new BullmqJobQueue({ connection: redis, keys });
    try {
      await queue.enqueueEdit({ editId: records[2].id, tenantId: 'acme' }, 'interactive');
      await queue.enqueueEdit({ editId: records[3].id, tenantId: 'acme' }, 'batch');
      assert.equal(await queue.queuePosition(records[2].id, 'interactive'), 1);
      assert.equal((await queue.load()).total, 2);
    } finally {
      await queue.close();
    }

    const tagSlot = (await redis.cluster('KEYSLOT', keys.prefix)) as number;
    const written: string[] = [];
    const slotsSeen = new Set<number>();
    for (const node of redis.nodes('master')) {
      for (const key of await node.keys(`${keys.prefix}:*`)) {
        written.push(key);
        slotsSeen.add((await node.cluster('KEYSLOT', key)) as number);
      }
    }
    for (const kind of [
      ':edit:',
      ':tenant:acme:edits',
      ':edits:active',
      ':idem:',
      ':apikey:',
      ':upload:',
      ':bull:edit:',
    ]) {
      assert.ok(
        written.some((key) => key.includes(kind)),
        `a key with ${kind} among ${written.length} keys`,
      );
    }
    assert.deepEqual([...slotsSeen], [tagSlot], 'every key of ours is in the slot of {prefix}');
  });

  it('is routed by the cluster: a node that does not own our slot answers MOVED for our keys', async () => {
    const repo = new RedisEditRepository(redis, keys, { retentionDays: 1 });
    const record = makeRecord('acme', Date.now());
    await repo.create(record);
    const tagSlot = (await redis.cluster('KEYSLOT', keys.prefix)) as number;
    const slots = await redis.cluster('SLOTS');
    const ownerPort = slots.find(([from, to]) => tagSlot >= from && tagSlot <= to)?.[2]?.[1];
    const other = cluster.nodes.find((node) => node.port !== ownerPort);
    assert.ok(other && ownerPort, 'a node that does not own the slot');
    const direct = new Redis(other.url, { maxRetriesPerRequest: 0 });
    try {
      await assert.rejects(
        direct.hgetall(keys.edit(record.id)),
        new RegExp(`MOVED ${tagSlot} 127\\.0\\.0\\.1:${ownerPort}`),
      );
      // Without the tag, two of our keys would hash to different slots and our scripts would be refused.
      const untagged = [`${keys.name}:edit:${record.id}`, `${keys.name}:edits:active`];
      const untaggedSlots = await Promise.all(untagged.map((key) => redis.cluster('KEYSLOT', key)));
      assert.notEqual(untaggedSlots[0], untaggedSlots[1]);
    } finally {
      direct.disconnect();
    }
    assert.equal((await repo.get(record.id))?.id, record.id, 'the cluster client follows the slot to its owner');
  });
});
