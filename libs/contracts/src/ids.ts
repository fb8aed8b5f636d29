import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID (26 Crockford base-32 characters: 48-bit millisecond time, then 80 random bits), so ids sort by creation
 * time as strings. Standard Webhooks ids (`msg_<ulid>`) and our edit ids use it.
 */
export function ulid(timeMs: number = Date.now()): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > 0xffff_ffff_ffff) {
    throw new RangeError(`ulid time must be a 48-bit millisecond count, got ${timeMs}`);
  }
  let time = '';
  let rest = timeMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  const random = randomBytes(10);
  let bits = 0n;
  for (const byte of random) bits = (bits << 8n) | BigInt(byte);
  let tail = '';
  for (let i = 0; i < 16; i++) {
    tail = CROCKFORD[Number(bits & 31n)] + tail;
    bits >>= 5n;
  }
  return time + tail;
}

const ULID_PATTERN = '[0-9A-HJKMNP-TV-Z]{26}';

/** Edit ids double as BullMQ job ids, which must not contain `:` nor be all digits. */
export const EDIT_ID_PATTERN = new RegExp(`^edit_${ULID_PATTERN}$`);
export const MESSAGE_ID_PATTERN = new RegExp(`^msg_${ULID_PATTERN}$`);

export function newEditId(timeMs?: number): string {
  return `edit_${ulid(timeMs)}`;
}

/** `webhook-id` of one event; every retry of that event reuses it (Standard Webhooks). */
export function newWebhookMessageId(timeMs?: number): string {
  return `msg_${ulid(timeMs)}`;
}

export function isEditId(value: string): boolean {
  return EDIT_ID_PATTERN.test(value);
}
