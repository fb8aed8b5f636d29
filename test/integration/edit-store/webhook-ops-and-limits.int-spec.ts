import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  closeRedisClient,
  createRedisClient,
  isRedisUnavailableError,
  RedisDeliveryLog,
  RedisEditRepository,
  RedisKeys,
  RedisRateLimiter,
  RedisWebhookSecretStore,
  RedisWebhookStateStore,
} from '@step1x/edit-store';
import { generateWebhookSecret } from '@step1x/webhooks';
import { makeRecord } from '../../support/edit-records';
import { startRedisServer, type RedisServerHandle } from '../../support/redis-server';

describe('webhook operations and rate limit stores (real redis-server)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let keys: RedisKeys;

  before(async () => {
    server = await startRedisServer();
    redis = createRedisClient(server.url);
    keys = new RedisKeys(`t${randomUUID().slice(0, 8)}`);
  });
  after(async () => {
    await closeRedisClient(redis);
    await server.stop();
  });

  it('rotates a secret: the old one signs for the overlap (with its TTL), a second rotation drops the oldest', async () => {
    const store = new RedisWebhookSecretStore(redis, keys);
    const first = await store.rotate('fresh', generateWebhookSecret(), 60);
    assert.equal(first.previousExpiresAt, null, 'nothing to keep before the first secret');
    assert.deepEqual(await store.signingSecrets('fresh', generateWebhookSecret), [first.secret]);

    const old = await store.getOrCreate('acme', generateWebhookSecret);
    const before = Date.now();
    const second = await store.rotate('acme', generateWebhookSecret(), 3600);
    const expiresIn = second.previousExpiresAt!.getTime() - before;
    assert.ok(expiresIn > 3_595_000 && expiresIn < 3_605_000, `${expiresIn} ms`);
    assert.equal(await store.get('acme'), second.secret);
    assert.deepEqual(await store.signingSecrets('acme', generateWebhookSecret), [second.secret, old]);
    const ttl = await redis.ttl(keys.tenantPreviousWebhookSecret('acme'));
    assert.ok(ttl > 3590 && ttl <= 3600, `previous secret TTL ${ttl}`);

    const third = await store.rotate('acme', generateWebhookSecret(), 3600);
    assert.deepEqual(await store.signingSecrets('acme', generateWebhookSecret), [third.secret, second.secret]);
    await store.rotate('acme', generateWebhookSecret(), 0);
    assert.equal((await store.signingSecrets('acme', generateWebhookSecret)).length, 1, 'overlap 0: no old secret');
  });

  it('keeps webhook state in the edit hash, never recreates an expired edit, never downgrades delivered', async () => {
    const repo = new RedisEditRepository(redis, keys, { retentionDays: 30 });
    const state = new RedisWebhookStateStore(redis, keys);
    const record = makeRecord('acme', Date.now(), { webhook: { url: 'https://example.com/h', events: ['completed'] } });
    await repo.create(record);
    assert.equal((await repo.get(record.id))!.webhookDelivery, undefined);

    await state.recordAttempt(record.id, 'pending');
    await state.recordAttempt(record.id, 'delivered');
    await state.recordAttempt(record.id, 'pending'); // a late edit.progress retry
    assert.deepEqual((await repo.get(record.id))!.webhookDelivery, { status: 'delivered', attempts: 3 });

    assert.equal(await state.beginReplay(record.id), null, 'no edit.completed sent yet');
    const message = { messageId: 'msg_01ARZ3NDEKTSV4RRFFQ69G5FAV', eventAt: record.createdAt, lastAttempt: 4 };
    await state.rememberCompleted(record.id, message);
    await state.rememberCompleted(record.id, { ...message, lastAttempt: 2 }); // an older attempt finishing late
    const [a, b] = await Promise.all([state.beginReplay(record.id), state.beginReplay(record.id)]);
    assert.deepEqual([a!.lastAttempt, b!.lastAttempt].sort(), [5, 6], 'two replays at once get two numbers');
    assert.equal((await repo.get(record.id))!.webhookDelivery?.status, 'pending');

    const gone = 'edit_01ARZ3NDEKTSV4RRFFQ69G5FAW';
    await state.recordAttempt(gone, 'failed');
    await state.rememberCompleted(gone, message);
    assert.equal(await redis.exists(keys.edit(gone)), 0, 'no hash without a TTL appears for a gone edit');
  });

  it('logs deliveries per subject: a batch has its own list', async () => {
    const log = new RedisDeliveryLog(redis, keys, 30);
    const entry = {
      message_id: 'msg_1',
      type: 'batch.completed',
      attempt: 1,
      at: new Date().toISOString(),
      duration_ms: 3,
      status: 200,
      error: null,
      next_retry_at: null,
    };
    await log.record({ kind: 'batch', id: 'batch_A' }, entry);
    assert.deepEqual(await log.list({ kind: 'batch', id: 'batch_A' }), [entry]);
    assert.deepEqual(await log.list({ kind: 'edit', id: 'batch_A' }), []);
    assert.ok((await redis.ttl(keys.batchDeliveries('batch_A'))) > 0);
  });

  it('counts edits per key: a call larger than the window is refused without spending the budget', async () => {
    const limiter = new RedisRateLimiter(redis, keys, { rps: 0, burst: 0, editsPerMin: 10 });
    assert.deepEqual(await limiter.consumeRequest('k'), { allowed: true, limit: 0, remaining: 0, resetMs: 0 });
    assert.equal((await limiter.consumeEdits('k', 11)).allowed, false);
    const seven = await limiter.consumeEdits('k', 7);
    assert.deepEqual([seven.allowed, seven.remaining], [true, 3]);
    assert.equal((await limiter.consumeEdits('k', 4)).allowed, false);
    const other = await limiter.consumeEdits('other-key', 10);
    assert.deepEqual([other.allowed, other.remaining], [true, 0], 'keys count apart');
    const ttl = await redis.pttl(`${keys.rateLimit('edits')}:k`);
    assert.ok(ttl > 0 && ttl <= 60_000, `window TTL ${ttl}`);
  });

  it('uses the burst pool once a second is spent, and refuses at once while Redis is out of reach', async () => {
    const limiter = new RedisRateLimiter(redis, keys, { rps: 2, burst: 3, editsPerMin: 0 });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await limiter.consumeRequest('burst-key'));
    assert.deepEqual(
      answers.map((a) => a.allowed),
      [true, true, true, true, true, false],
    );
    assert.ok(answers[5].resetMs > 0 && answers[5].resetMs <= 1000);

    const offline = createRedisClient(server.url, 'command', { lazyConnect: true });
    const down = new RedisRateLimiter(offline, keys, { rps: 2, burst: 0, editsPerMin: 0 });
    const started = Date.now();
    const error = await down.consumeRequest('k').then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isRedisUnavailableError(error), `an outage, not a pass: ${String(error)}`);
    assert.ok(Date.now() - started < 500);
    offline.disconnect();
  });
});
