// Standard Webhooks v1 signing (CONTRACT.md "Webhooks"): `v1,<base64 HMAC-SHA256>` over
// "{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded bytes after `whsec_`.
import { createHmac, randomBytes } from 'node:crypto';
import { newWebhookMessageId } from '@step1x/contracts';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const WEBHOOK_SECRET_BYTES = 32;

export class InvalidWebhookSecretError extends Error {
  readonly code = 'invalid_webhook_secret';
  constructor(reason: string) {
    super(`invalid webhook secret: ${reason}`);
    this.name = 'InvalidWebhookSecretError';
  }
}

/** `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64');
}

/** The HMAC key: the base64-decoded part after `whsec_`. */
export function decodeWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new InvalidWebhookSecretError(`must start with "whsec_"`);
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') silently skips bad characters; a secret must round-trip exactly.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new InvalidWebhookSecretError('not base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new InvalidWebhookSecretError('not canonical base64');
  }
  // Standard Webhooks asks for 24–64 random bytes.
  if (key.length < 24 || key.length > 64) throw new InvalidWebhookSecretError(`${key.length} bytes, need 24–64`);
  return key;
}

/** `msg_<ulid>`: one per event, reused by every retry of that event (the contracts' generator). */
export function newWebhookId(): string {
  return newWebhookMessageId();
}

export interface SignatureInput {
  webhookId: string;
  /** Unix seconds, as sent in `webhook-timestamp`. */
  timestamp: number;
  /** The exact body bytes that will be sent. */
  payload: string | Buffer;
  secret: string;
}

/** `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{payload}")>`. */
export function signWebhook(input: SignatureInput): string {
  if (!Number.isSafeInteger(input.timestamp)) throw new RangeError('webhook timestamp must be integer seconds');
  const hmac = createHmac('sha256', decodeWebhookSecret(input.secret));
  hmac.update(`${input.webhookId}.${input.timestamp}.`);
  hmac.update(input.payload);
  return `v1,${hmac.digest('base64')}`;
}

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The three Standard Webhooks headers for one attempt (the timestamp is the attempt's send time). With several
 * secrets (a rotation's overlap: new first, then old) the signature header lists one `v1,…` per secret,
 * space-separated, and a receiver holding either secret verifies it (Standard Webhooks, "Signature scheme").
 */
export function buildWebhookHeaders(
  webhookId: string,
  payload: string | Buffer,
  secret: string | readonly string[],
  sentAt: Date = new Date(),
): WebhookHeaders {
  const timestamp = Math.floor(sentAt.getTime() / 1000);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new InvalidWebhookSecretError('no secret to sign with');
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((key) => signWebhook({ webhookId, timestamp, payload, secret: key })).join(' '),
  };
}
