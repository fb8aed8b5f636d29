import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newEditId, type EditObject } from '@step1x/contracts';
import { closeRedisClient, createRedisClient, RedisKeys } from '@step1x/edit-store';
import type { Redis } from 'ioredis';
import { pngOf, startApiHarness, type ApiHarness } from '../e2e/api-harness';
import { multipartOf } from '../e2e/service-harness';

/**
 * The two moments an API process can die while accepting an edit with an Idempotency-Key, set up exactly in Redis
 * (the chaos suite's API SIGKILL row hits them by chance): the retry must get the one edit, with the reserved id.
 */
describe('Idempotency-Key after the accepting process died (e2e)', () => {
  let api: ApiHarness;
  let redis: Redis;
  let png: Buffer;
  const keys = new RedisKeys('e2e');

  before(async () => {
    api = await startApiHarness();
    redis = createRedisClient(api.redis.url);
    png = await pngOf(32, 32);
  });
  after(async () => {
    await closeRedisClient(redis);
    await api?.stop();
  });

  const post = (key: string, instruction = 'add a hat') =>
    api.call('/v1/edits', {
      method: 'POST',
      headers: { 'idempotency-key': key },
      body: multipartOf({ instruction }, { bytes: png, type: 'image/png' }),
    });
  /** The marker a process leaves when it dies after `begin`: in progress, lease already over. */
  const leaveDeadMarker = (key: string, editId: string) =>
    redis.set(
      keys.idempotency('acme', key),
      JSON.stringify({ state: 'in_progress', token: 'dead-owner', editId, leaseUntil: Date.now() - 1 }),
      'EX',
      3600,
    );
  const editsWithInstruction = async (instruction: string) => {
    const list = (await (await api.call('/v1/edits?limit=100')).json()) as { data: EditObject[] };
    return list.data.filter((edit) => edit.input.instruction === instruction);
  };

  it('died before creating the edit: the retry creates it under the id the key reserved', async () => {
    const reserved = newEditId(Date.now());
    await leaveDeadMarker('died-early', reserved);
    const response = await post('died-early', 'died early');
    assert.equal(response.status, 202);
    assert.equal(((await response.json()) as EditObject).id, reserved);
    const replay = await post('died-early', 'died early');
    assert.equal(((await replay.json()) as EditObject).id, reserved, 'then replayed as usual');
    assert.equal((await editsWithInstruction('died early')).length, 1);
  });

  it('died after creating the edit, before answering: the retry gets that edit, no second one', async () => {
    const first = (await (await post('died-late', 'died late')).json()) as EditObject;
    // Rewind the key to what the dying process left: in progress, its answer never recorded.
    await leaveDeadMarker('died-late', first.id);
    const retry = await post('died-late', 'died late');
    assert.equal(retry.status, 202);
    assert.equal(((await retry.json()) as EditObject).id, first.id);
    assert.equal((await editsWithInstruction('died late')).length, 1, 'one edit for the key');
  });

  it('a live owner keeps the key: 409 idempotency_in_progress with Retry-After until its lease ends', async () => {
    await redis.set(
      keys.idempotency('acme', 'alive'),
      JSON.stringify({
        state: 'in_progress',
        token: 'alive',
        editId: newEditId(Date.now()),
        leaseUntil: Date.now() + 20_000,
      }),
      'EX',
      3600,
    );
    const response = await post('alive');
    assert.equal(response.status, 409);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'idempotency_in_progress');
    const retryAfter = Number(response.headers.get('retry-after'));
    assert.ok(retryAfter >= 19 && retryAfter <= 20, `Retry-After ${retryAfter}`);
  });
});
