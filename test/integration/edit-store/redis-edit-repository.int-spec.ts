import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { newEditId, type EditRecord, type EditStatus } from '@step1x/contracts';
import {
  closeRedisClient,
  createRedisClient,
  RedisApiKeyStore,
  RedisDeliveryLog,
  RedisEditRepository,
  RedisIdempotencyStore,
  RedisKeys,
  RedisUploadStore,
  RedisWebhookSecretStore,
  type EditListPosition,
} from '@step1x/edit-store';
import { makeRecord } from '../../support/edit-records';
import { startRedisServer, type RedisServerHandle } from '../../support/redis-server';

describe('RedisEditRepository (real redis-server)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let keys: RedisKeys;
  let repo: RedisEditRepository;

  before(async () => {
    server = await startRedisServer();
    redis = createRedisClient(server.url);
    keys = new RedisKeys(`t${randomUUID().slice(0, 8)}`);
    repo = new RedisEditRepository(redis, keys, { retentionDays: 30 });
  });
  after(async () => {
    await closeRedisClient(redis);
    await server.stop();
  });

  it('round-trips a record exactly, with a TTL on every key it writes', async () => {
    const record = makeRecord('acme', Date.now());
    await repo.create(record);
    assert.deepEqual(await repo.get(record.id), record);
    const ttl = await redis.ttl(keys.edit(record.id));
    assert.ok(ttl > 29 * 86_400 && ttl <= 30 * 86_400, `edit TTL ${ttl}`);
    assert.ok((await redis.ttl(keys.tenantEdits('acme'))) > 0);
    assert.equal(await repo.get(newEditId()), null);
  });

  it("hides another tenant's edit", async () => {
    const record = makeRecord('acme', Date.now());
    await repo.create(record);
    assert.equal(await repo.getForTenant('globex', record.id), null);
    assert.equal((await repo.getForTenant('acme', record.id))?.id, record.id);
  });

  it('moves through the lifecycle with compare-and-set transitions', async () => {
    const record = makeRecord('acme', Date.now());
    await repo.create(record);
    const started = new Date();
    const running = await repo.markRunning(record.id, 1, started);
    assert.ok(running.applied);
    assert.equal(running.record.startedAt, started.toISOString());
    // A stalled edit that runs again keeps its first start time and counts the attempt.
    const again = await repo.markRunning(record.id, 2, new Date(started.getTime() + 5000));
    assert.ok(again.applied);
    assert.equal(again.record.startedAt, started.toISOString());
    assert.equal(again.record.attempts, 2);
    assert.ok((await repo.updateProgress(record.id, { step: 3, total: 28 })).applied);
    const output = { key: `outputs/acme/${record.id}.png`, width: 640, height: 480, format: 'png' as const, seed: 7 };
    const done = await repo.markSucceeded(record.id, output, new Date());
    assert.ok(done.applied);
    assert.deepEqual(done.record.output, output);
    assert.equal(done.record.status, 'succeeded');
    // Terminal: nothing moves it any more, and the refusal reports the current state.
    const late = await repo.markCanceled(record.id, new Date());
    assert.equal(late.applied, false);
    assert.equal(late.record?.status, 'succeeded');
    assert.equal((await repo.requestCancel(record.id)).applied, false);
    assert.deepEqual(await repo.transition(newEditId(), { from: ['queued'], set: {} }), {
      applied: false,
      record: null,
    });
  });

  it('lets exactly one of a racing cancel and start win', async () => {
    for (let round = 0; round < 10; round++) {
      const record = makeRecord('acme', Date.now());
      await repo.create(record);
      const [cancel, start] = await Promise.all([
        repo.transition(record.id, { from: ['queued'], set: { status: 'canceled' } }),
        repo.transition(record.id, { from: ['queued'], set: { status: 'running' } }),
      ]);
      assert.equal(Number(cancel.applied) + Number(start.applied), 1);
    }
  });

  it('pages newest first over (created_at, id) without gaps or repeats, with a status filter', async () => {
    const tenant = `list-${randomUUID().slice(0, 6)}`;
    const base = Date.parse('2030-01-01T00:00:00Z');
    const created: EditRecord[] = [];
    for (let i = 0; i < 25; i++) {
      // Pairs share a millisecond, so the id breaks ties.
      const record = makeRecord(tenant, base + Math.floor(i / 2), { status: i % 3 === 0 ? 'running' : 'queued' });
      created.push(record);
      await repo.create(record);
    }
    const expected = [...created].sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
    );
    const pageThrough = async (statuses: EditStatus[], limit: number) => {
      const seen: string[] = [];
      let after: EditListPosition | null = null;
      for (let pages = 0; pages < 50; pages++) {
        const page = await repo.list(tenant, { statuses, limit, after });
        assert.ok(page.records.length <= limit);
        seen.push(...page.records.map((r) => r.id));
        if (!page.next) return seen;
        after = page.next;
      }
      assert.fail('pagination did not end');
    };
    assert.deepEqual(
      await pageThrough([], 7),
      expected.map((r) => r.id),
    );
    assert.deepEqual(
      await pageThrough([], 25),
      expected.map((r) => r.id),
    );
    const running = expected.filter((r) => r.status === 'running').map((r) => r.id);
    assert.deepEqual(await pageThrough(['running'], 3), running);
    assert.deepEqual(await pageThrough(['succeeded'], 5), []);
  });

  it('drops index entries whose record expired', async () => {
    const tenant = `stale-${randomUUID().slice(0, 6)}`;
    const kept = makeRecord(tenant, Date.now());
    const gone = makeRecord(tenant, Date.now() + 1);
    await repo.create(kept);
    await repo.create(gone);
    await redis.del(keys.edit(gone.id));
    const page = await repo.list(tenant, { statuses: [], limit: 10, after: null });
    assert.deepEqual(
      page.records.map((r) => r.id),
      [kept.id],
    );
    assert.equal(await redis.zcard(keys.tenantEdits(tenant)), 1);
  });
});

describe('Redis small stores (real redis-server)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let keys: RedisKeys;

  before(async () => {
    server = await startRedisServer();
    redis = createRedisClient(server.url);
    keys = new RedisKeys('small');
  });
  after(async () => {
    await closeRedisClient(redis);
    await server.stop();
  });

  it('takes an idempotency key once, reports it in progress, then replays the answer', async () => {
    const store = new RedisIdempotencyStore(redis, keys, 86_400);
    const first = await store.begin('acme', 'key-1', 'edit_A');
    assert.deepEqual(
      { ...first, token: undefined },
      { state: 'started', token: undefined, editId: 'edit_A', resumed: false },
    );
    const busy = await store.begin('acme', 'key-1', 'edit_B');
    assert.equal(busy.state, 'in_progress');
    if (busy.state === 'in_progress') assert.ok(busy.retryAfterMs > 25_000 && busy.retryAfterMs <= 30_000);
    // Per tenant: the same key of another tenant is independent.
    assert.equal((await store.begin('globex', 'key-1', 'edit_C')).state, 'started');
    if (first.state !== 'started') return;
    await store.complete('acme', 'key-1', first.token, { requestHash: 'h1', editId: 'edit_X', statusCode: 202 });
    assert.deepEqual(await store.begin('acme', 'key-1', 'edit_D'), {
      state: 'done',
      requestHash: 'h1',
      editId: 'edit_X',
      statusCode: 202,
    });
    const ttl = await redis.ttl(keys.idempotency('acme', 'key-1'));
    assert.ok(ttl > 86_000 && ttl <= 86_400, `TTL ${ttl}`);
    // Only the owner may rewrite or release it.
    await store.abandon('acme', 'key-1', 'not-the-token');
    assert.equal((await store.begin('acme', 'key-1', 'edit_E')).state, 'done');
  });

  it('passes a key whose owner died (lease over) to the next request, with the same reserved edit id', async () => {
    const store = new RedisIdempotencyStore(redis, keys, 86_400, 300);
    const dead = await store.begin('acme', 'key-3', 'edit_FIRST');
    assert.equal((await store.begin('acme', 'key-3', 'edit_SECOND')).state, 'in_progress');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = await store.begin('acme', 'key-3', 'edit_THIRD');
    assert.equal(next.state, 'started');
    if (next.state !== 'started' || dead.state !== 'started') return;
    assert.equal(next.editId, 'edit_FIRST');
    assert.equal(next.resumed, true);
    const ttl = await redis.ttl(keys.idempotency('acme', 'key-3'));
    assert.ok(ttl > 86_000, `the key keeps its TTL (${ttl})`);
    // The dead owner's token no longer counts: it can neither answer nor release the key.
    await store.complete('acme', 'key-3', dead.token, { requestHash: 'old', editId: 'edit_FIRST', statusCode: 202 });
    await store.abandon('acme', 'key-3', dead.token);
    assert.equal((await store.begin('acme', 'key-3', 'edit_FOURTH')).state, 'in_progress');
    await store.complete('acme', 'key-3', next.token, { requestHash: 'new', editId: 'edit_FIRST', statusCode: 202 });
    const done = await store.begin('acme', 'key-3', 'edit_FIFTH');
    assert.deepEqual(done, { state: 'done', requestHash: 'new', editId: 'edit_FIRST', statusCode: 202 });
  });

  it('releases an abandoned idempotency key', async () => {
    const store = new RedisIdempotencyStore(redis, keys, 60);
    const first = await store.begin('acme', 'key-2', 'edit_A');
    assert.equal(first.state, 'started');
    if (first.state === 'started') await store.abandon('acme', 'key-2', first.token);
    const again = await store.begin('acme', 'key-2', 'edit_B');
    assert.equal(again.state === 'started' && again.editId, 'edit_B', 'a released key reserves a new id');
  });

  it('stores API keys only as hashes', async () => {
    const store = new RedisApiKeyStore(redis, keys);
    await store.seed([{ tenantId: 'acme', key: 'sk_live_secret_1' }]);
    assert.equal(await store.tenantForKey('sk_live_secret_1'), 'acme');
    assert.equal(await store.tenantForKey('sk_live_secret_2'), null);
    const all = await redis.keys(keys.apiKey('*'));
    assert.equal(all.length, 1);
    assert.ok(!all[0].includes('sk_live'));
    assert.ok((await redis.ttl(all[0])) > 0);
  });

  it('creates one webhook secret per tenant even under a race', async () => {
    const store = new RedisWebhookSecretStore(redis, keys);
    let made = 0;
    const create = () => `whsec_${++made}`;
    const [a, b] = await Promise.all([store.getOrCreate('acme', create), store.getOrCreate('acme', create)]);
    assert.equal(a, b);
    assert.equal(await store.get('acme'), a);
    assert.equal(await store.get('globex'), null);
  });

  it('records delivery attempts in order and remembers uploads', async () => {
    const log = new RedisDeliveryLog(redis, keys, 30);
    const attempt = {
      message_id: 'msg_1',
      type: 'edit.completed',
      attempt: 1,
      at: new Date().toISOString(),
      duration_ms: 12,
      status: 500,
      error: { code: 'unexpected_status', message: 'HTTP 500' },
      next_retry_at: new Date().toISOString(),
    };
    const edit = { kind: 'edit', id: 'edit_A' } as const;
    await log.record(edit, attempt);
    await log.record(edit, { ...attempt, attempt: 2, status: 200, error: null, next_retry_at: null });
    assert.deepEqual(await log.list(edit), [
      attempt,
      { ...attempt, attempt: 2, status: 200, error: null, next_retry_at: null },
    ]);
    assert.ok((await redis.ttl(keys.editDeliveries('edit_A'))) > 0);
    const uploads = new RedisUploadStore(redis, keys);
    const upload = {
      tenantId: 'acme',
      contentType: 'image/png',
      size: 10,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    };
    await uploads.remember('uploads/acme/x', upload);
    assert.deepEqual(await uploads.find('uploads/acme/x'), upload);
    assert.equal(await uploads.find('uploads/acme/y'), null);
  });
});
