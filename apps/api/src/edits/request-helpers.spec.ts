import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, newEditId, parseEditRequest } from '@step1x/contracts';
import { canonicalJson, idempotencyRequestHash, readIdempotencyKey } from './idempotency-hash';
import { decodeListCursor, encodeListCursor } from './list-cursor';
import { parsePreferWait } from './prefer-wait';

describe('list cursor', () => {
  it('round-trips a keyset position and is opaque (url-safe base64)', () => {
    const position = { createdAtMs: 1_893_456_000_123, id: newEditId(1_893_456_000_123) };
    const cursor = encodeListCursor(position);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeListCursor(cursor), position);
  });

  it('refuses anything it did not make with invalid_cursor', () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const bad = [
      'not a cursor!',
      'AAAA',
      forged({ v: 2, t: 1, id: newEditId() }),
      forged({ v: 1, t: -5, id: newEditId() }),
      forged({ v: 1, t: 1, id: 'edit_../../etc' }),
      forged([1, 2]),
    ];
    for (const cursor of bad) {
      assert.throws(
        () => decodeListCursor(cursor),
        (error: ApiError) => error.code === 'invalid_cursor' && error.status === 400 && error.param === 'cursor',
        cursor,
      );
    }
  });
});

describe('idempotency request hash', () => {
  const image = 'a'.repeat(64);
  const hash = (body: Record<string, unknown>, overrides: Partial<{ tenantId: string; imageSha256: string }> = {}) =>
    idempotencyRequestHash({
      tenantId: overrides.tenantId ?? 'acme',
      route: 'POST /v1/edits',
      fields: parseEditRequest({ image_key: 'k', ...body }, false).fields,
      imageSha256: overrides.imageSha256 ?? image,
    });

  it('is the same for requests that differ only in defaults, key order or image source', () => {
    const explicit = hash({ steps: 28, guidance: 6, instruction: 'hat', priority: 'interactive' });
    assert.equal(hash({ instruction: 'hat' }), explicit);
    assert.equal(
      idempotencyRequestHash({
        tenantId: 'acme',
        route: 'POST /v1/edits',
        fields: parseEditRequest({ instruction: 'hat', image_url: 'https://x.example/a.png' }, false).fields,
        imageSha256: image,
      }),
      explicit,
    );
  });

  it('changes with any field, the tenant or the image bytes', () => {
    const base = hash({ instruction: 'hat' });
    assert.notEqual(hash({ instruction: 'hat', steps: 27 }), base);
    assert.notEqual(hash({ instruction: 'hat', seed: 1 }), base);
    assert.notEqual(hash({ instruction: 'hat', metadata: { a: 1 } }), base);
    assert.notEqual(hash({ instruction: 'hat' }, { tenantId: 'globex' }), base);
    assert.notEqual(hash({ instruction: 'hat' }, { imageSha256: 'b'.repeat(64) }), base);
  });

  it('canonicalises nested objects', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } }),
      '{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}',
    );
  });

  it('accepts keys up to 255 characters', () => {
    assert.equal(readIdempotencyKey(undefined), null);
    assert.equal(readIdempotencyKey('k'.repeat(255)), 'k'.repeat(255));
    assert.throws(
      () => readIdempotencyKey('k'.repeat(256)),
      (e: ApiError) => e.code === 'invalid_request',
    );
    assert.throws(
      () => readIdempotencyKey(''),
      (e: ApiError) => e.param === 'Idempotency-Key',
    );
  });
});

describe('Prefer: wait', () => {
  it('reads wait=N among other preferences and clamps it', () => {
    assert.deepEqual(parsePreferWait('wait=5', 60), { seconds: 5, applied: 'wait=5' });
    assert.deepEqual(parsePreferWait('respond-async, wait=120', 60), { seconds: 60, applied: 'wait=60' });
    assert.deepEqual(parsePreferWait(['handling=lenient', 'wait=0'], 60), { seconds: 0, applied: 'wait=0' });
  });

  it('ignores absent or malformed waits', () => {
    assert.equal(parsePreferWait(undefined, 60), null);
    assert.equal(parsePreferWait('wait=soon', 60), null);
    assert.equal(parsePreferWait('wait=-3', 60), null);
  });
});
