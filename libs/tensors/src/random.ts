/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the Random123 library)
 * and Box–Muller standard normals on top of it.
 *
 * Why a counter-based generator: any element of a stream can be computed without generating the ones before it,
 * so random tiny weights and noise can be produced chunk by chunk, per parameter, and reproduced exactly across
 * our versions (docs/MODEL.md §3, §5). These are NOT PyTorch's numbers.
 *
 * The exact stream (a contract: changing it changes every seeded output):
 * - key   = (seed mod 2^32, floor(seed / 2^32) mod 2^32): the seed is an unsigned 64-bit integer.
 * - block b of stream s uses the counter (b mod 2^32, floor(b / 2^32), s mod 2^32, floor(s / 2^32)), word 0 first;
 *   b and s are unsigned 64-bit integers (b counts from 0).
 * - Philox4x32-10 maps (counter, key) to four 32-bit words w0..w3 (Random123's `philox4x32(ctr, key)` with 10
 *   rounds; its known-answer vectors are in random.spec.ts).
 * - uniforms: u = (w + 0.5) / 2^32, computed in float64, so 0 < u < 1 (log(u) is always finite).
 * - normals: block b yields elements 4b..4b+3. With r1 = sqrt(-2 ln u(w0)), θ1 = 2π u(w1), r2 = sqrt(-2 ln u(w2)),
 *   θ2 = 2π u(w3): z[4b] = r1 cos θ1, z[4b+1] = r1 sin θ1, z[4b+2] = r2 cos θ2, z[4b+3] = r2 sin θ2, each computed
 *   in float64 (Math.log/sqrt/cos/sin) and rounded once to float32. A request for n values takes elements
 *   [start, start + n) of this sequence, so the tail of a last block is simply not used.
 * Math.log/cos/sin are V8's fdlibm ports, which give the same bits on every platform for a given Node version.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_32 = 1 / TWO_POW_32;
const TWO_PI = 2 * Math.PI;

export type Seed = number | bigint;

/** Splits an unsigned 64-bit integer (a safe-integer number or a bigint) into its low and high 32-bit words. */
export function splitUint64(value: Seed, what = 'value'): [number, number] {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n)
      throw new RangeError(`${what} must be an unsigned 64-bit integer, got ${value}`);
    return [Number(value & 0xffffffffn), Number(value >> 32n)];
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer or a bigint, got ${value}`);
  }
  return [value % TWO_POW_32, Math.floor(value / TWO_POW_32)];
}

/**
 * High 32 bits of the 64-bit product a·m (a, m unsigned 32-bit). The float64 product is within 2^12 of the exact
 * one; subtracting the exact low word leaves a multiple of 2^32 off by at most 2^12, which rounding removes.
 */
function mulHi(a: number, m: number, lo: number): number {
  return Math.round((a * m - lo) * TWO_POW_MINUS_32) >>> 0;
}

/** One Philox4x32-10 block: (counter words c0..c3, key k0, k1) → four words written to out[at..at+3]. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  at = 0,
): void {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi0 = mulHi(c0, PHILOX_M0, lo0);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    const hi1 = mulHi(c2, PHILOX_M1, lo1);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = c3;
}

/** A keyed Philox4x32-10 stream: the seed is the key, the stream id is the counter's upper 64 bits. */
export class Philox {
  private readonly k0: number;
  private readonly k1: number;
  private readonly s0: number;
  private readonly s1: number;
  private readonly block = new Uint32Array(4);

  constructor(seed: Seed, stream: Seed = 0) {
    [this.k0, this.k1] = splitUint64(seed, 'seed');
    [this.s0, this.s1] = splitUint64(stream, 'stream');
  }

  /** The four words of block `index` (a non-negative safe integer). The returned array is reused by the next call. */
  blockWords(index: number): Uint32Array {
    philox4x32(index % TWO_POW_32, Math.floor(index / TWO_POW_32), this.s0, this.s1, this.k0, this.k1, this.block);
    return this.block;
  }

  /** Fills `out` with words 4·firstBlock … of the stream (word i of block b is element 4b + i). */
  fillUint32(out: Uint32Array, firstBlock = 0): Uint32Array {
    const whole = out.length >>> 2;
    for (let b = 0; b < whole; b++) {
      const index = firstBlock + b;
      philox4x32(index % TWO_POW_32, Math.floor(index / TWO_POW_32), this.s0, this.s1, this.k0, this.k1, out, b * 4);
    }
    const rest = out.length - whole * 4;
    if (rest > 0) {
      const words = this.blockWords(firstBlock + whole);
      for (let i = 0; i < rest; i++) out[whole * 4 + i] = words[i];
    }
    return out;
  }

  /** Elements [start, start + out.length) of the standard-normal sequence described at the top of this file. */
  fillNormalFloat32(out: Float32Array, start = 0): Float32Array {
    if (!Number.isSafeInteger(start) || start < 0)
      throw new RangeError(`start must be a non-negative integer, got ${start}`);
    const normals = new Float64Array(4);
    let block = Math.floor(start / 4);
    let skip = start - block * 4;
    let written = 0;
    while (written < out.length) {
      const w = this.blockWords(block++);
      const r1 = Math.sqrt(-2 * Math.log((w[0] + 0.5) * TWO_POW_MINUS_32));
      const t1 = TWO_PI * ((w[1] + 0.5) * TWO_POW_MINUS_32);
      const r2 = Math.sqrt(-2 * Math.log((w[2] + 0.5) * TWO_POW_MINUS_32));
      const t2 = TWO_PI * ((w[3] + 0.5) * TWO_POW_MINUS_32);
      normals[0] = r1 * Math.cos(t1);
      normals[1] = r1 * Math.sin(t1);
      normals[2] = r2 * Math.cos(t2);
      normals[3] = r2 * Math.sin(t2);
      for (let i = skip; i < 4 && written < out.length; i++) out[written++] = normals[i];
      skip = 0;
    }
    return out;
  }
}

/** `count` standard normals (float32) of stream `stream` under `seed`, starting at element `start`. */
export function normalFloat32(seed: Seed, count: number, stream: Seed = 0, start = 0): Float32Array {
  return new Philox(seed, stream).fillNormalFloat32(new Float32Array(count), start);
}

/**
 * 64-bit FNV-1a of a string's UTF-8 bytes: a stable stream id per name, so a parameter's values depend only on
 * (seed, name) and adding or removing another parameter never shifts them.
 */
export function streamIdOf(name: string): bigint {
  const mask = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & mask;
  }
  return hash;
}
