import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  buildWebhookHeaders,
  decodeWebhookSecret,
  generateWebhookSecret,
  InvalidWebhookSecretError,
  newWebhookId,
  signWebhook,
} from './signer';

describe('webhook secrets', () => {
  it('are whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(decodeWebhookSecret(secret).length, 32);
    assert.notEqual(generateWebhookSecret(), secret);
  });

  it('refuses secrets that are not whsec_ + canonical base64 of 24–64 bytes', () => {
    const tooShort = `whsec_${Buffer.alloc(16, 1).toString('base64')}`;
    const noPrefix = Buffer.alloc(32, 1).toString('base64');
    const badChars = `whsec_${'*'.repeat(44)}`;
    for (const secret of [tooShort, noPrefix, badChars, 'whsec_']) {
      assert.throws(() => decodeWebhookSecret(secret), InvalidWebhookSecretError, secret);
    }
  });
});

describe('webhook ids', () => {
  it('are msg_ + a ULID, distinct per event', () => {
    const ids = Array.from({ length: 100 }, () => newWebhookId());
    for (const id of ids) assert.match(id, /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('signWebhook', () => {
  const secret = generateWebhookSecret();
  const payload = JSON.stringify({
    type: 'edit.completed',
    timestamp: '2026-01-01T00:00:00.000Z',
    data: { id: 'e_1', note: 'ünïcødé ✓' },
  });

  it('produces headers the standardwebhooks library verifies', () => {
    const headers = buildWebhookHeaders(newWebhookId(), payload, secret);
    const verified = new Webhook(secret).verify(payload, { ...headers });
    assert.deepEqual(verified, JSON.parse(payload));
  });

  it('matches the library signature byte for byte', () => {
    const id = newWebhookId();
    const sentAt = new Date(1_767_225_600_000);
    const ours = signWebhook({ webhookId: id, timestamp: 1_767_225_600, payload, secret });
    assert.equal(ours, new Webhook(secret).sign(id, sentAt, payload));
  });

  it('keys the HMAC with the base64-decoded secret, not its text', () => {
    const id = 'msg_01J0000000000000000000000';
    const timestamp = 1_700_000_000;
    const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
      .update(`${id}.${timestamp}.${payload}`)
      .digest('base64');
    assert.equal(signWebhook({ webhookId: id, timestamp, payload, secret }), `v1,${expected}`);
  });

  it('fails verification when the body, id, timestamp or secret differ', () => {
    const id = newWebhookId();
    const headers = buildWebhookHeaders(id, payload, secret);
    const verifier = new Webhook(secret);
    const tampered: Array<[string, Record<string, string>]> = [
      [payload.replace('e_1', 'e_2'), { ...headers }],
      [payload, { ...headers, 'webhook-id': newWebhookId() }],
      [payload, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }],
    ];
    for (const [body, tamperedHeaders] of tampered) {
      assert.throws(() => verifier.verify(body, tamperedHeaders), WebhookVerificationError);
    }
    assert.throws(() => new Webhook(generateWebhookSecret()).verify(payload, { ...headers }), WebhookVerificationError);
  });

  it('signs the attempt time, which the library checks against its tolerance', () => {
    const old = new Date(Date.now() - 10 * 60_000);
    const headers = buildWebhookHeaders(newWebhookId(), payload, secret, old);
    assert.equal(headers['webhook-timestamp'], String(Math.floor(old.getTime() / 1000)));
    assert.throws(() => new Webhook(secret).verify(payload, { ...headers }), WebhookVerificationError);
  });
});

describe('signatures during a secret rotation', () => {
  it('list one v1 signature per secret, and the public library verifies with either secret alone', () => {
    const [next, old, stranger] = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];
    const body = '{"type":"edit.completed"}';
    const headers = buildWebhookHeaders(newWebhookId(), body, [next, old]);
    const signatures = headers['webhook-signature'].split(' ');
    assert.equal(signatures.length, 2);
    assert.ok(signatures.every((signature) => signature.startsWith('v1,')));
    assert.deepEqual(new Webhook(next).verify(body, { ...headers }), JSON.parse(body));
    assert.deepEqual(new Webhook(old).verify(body, { ...headers }), JSON.parse(body));
    assert.throws(() => new Webhook(stranger).verify(body, { ...headers }), WebhookVerificationError);
    assert.throws(() => buildWebhookHeaders(newWebhookId(), body, []), InvalidWebhookSecretError);
  });
});
