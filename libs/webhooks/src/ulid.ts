import { randomBytes } from 'node:crypto';

// ULID (github.com/ulid/spec): 48-bit millisecond timestamp + 80 random bits, as 26 Crockford base32 characters,
// so ids sort by creation time. Within one millisecond the random part is incremented (monotonic ULIDs).

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MAX_TIME = 2 ** 48 - 1;
const RANDOM_BYTES = 10;

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out = CROCKFORD[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/** Adds one to the 80-bit big-endian number in place; false on overflow. */
function increment(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 255) {
      bytes[i]++;
      return true;
    }
    bytes[i] = 0;
  }
  return false;
}

export interface UlidFactoryOptions {
  /** @defaultValue Date.now */
  now?: () => number;
  /** Source of `size` random bytes. @defaultValue crypto.randomBytes */
  random?: (size: number) => Uint8Array;
}

/** Creates monotonic ULIDs; one factory per process is enough. */
export class UlidFactory {
  private readonly now: () => number;
  private readonly random: (size: number) => Uint8Array;
  private lastTime = -1;
  private lastRandom = new Uint8Array(RANDOM_BYTES);

  constructor(options: UlidFactoryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? randomBytes;
  }

  next(): string {
    let time = this.now();
    if (!Number.isInteger(time) || time < 0 || time > MAX_TIME) throw new RangeError(`ULID time out of range: ${time}`);
    if (time <= this.lastTime) {
      // Same (or a backwards-stepping) clock: stay on the last time and count up, so ids keep sorting.
      time = this.lastTime;
      if (!increment(this.lastRandom)) throw new RangeError('ULID random part overflowed within one millisecond');
    } else {
      this.lastTime = time;
      this.lastRandom = Uint8Array.from(this.random(RANDOM_BYTES));
    }
    return encodeTime(time) + encodeRandom(this.lastRandom);
  }
}

const processFactory = new UlidFactory();

/** A new monotonic ULID. */
export function ulid(): string {
  return processFactory.next();
}

/** The millisecond timestamp a ULID carries. */
export function ulidTime(id: string): number {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)) throw new RangeError(`not a ULID: ${id}`);
  let time = 0;
  for (const char of id.slice(0, 10)) time = time * 32 + CROCKFORD.indexOf(char);
  return time;
}
