import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bf16ToF32, f16ToF32 } from './dtype';
import { canTranscode, transcode, TranscodeError } from './transcode';

function run16(from: 'BF16' | 'F16', to: 'F16' | 'F32', bits: number[]): number[] {
  const src = new Uint8Array(new Uint16Array(bits).buffer);
  const dst = new Uint8Array(bits.length * (to === 'F32' ? 4 : 2));
  transcode(src, from, dst, to, bits.length);
  return to === 'F32' ? [...new Uint32Array(dst.buffer)] : [...new Uint16Array(dst.buffer)];
}

function f32BitsToF16Bits(bits: number[]): number[] {
  const src = new Uint8Array(new Uint32Array(bits).buffer);
  const dst = new Uint8Array(bits.length * 2);
  transcode(src, 'F32', dst, 'F16', bits.length);
  return [...new Uint16Array(dst.buffer)];
}

/** Round-to-nearest-even into binary16, computed on float64 values (an independent reference). */
function roundToHalf(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x)) return x;
  const mag = Math.abs(x);
  if (mag >= 65520) return Math.sign(x) * Infinity;
  const quantum = mag < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(mag)) - 10);
  const n = mag / quantum;
  const floor = Math.floor(n);
  const frac = n - floor;
  const rounded = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  const value = rounded * quantum;
  return x < 0 || Object.is(x, -0) ? -value : value;
}

describe('transcode', () => {
  it('widens bf16 to f32 by appending zero bits, NaN payloads and signs included', () => {
    const bits = [0x0000, 0x8000, 0x3f80, 0xc000, 0x0001, 0x807f, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f7f];
    assert.deepEqual(
      run16('BF16', 'F32', bits),
      bits.map((b) => (b << 16) >>> 0),
    );
  });

  it('narrows bf16 to f16 on known values: exact normals, overflow, subnormals with ties to even, inf, NaN', () => {
    const cases: [number, number][] = [
      [0x3f80, 0x3c00], // 1
      [0xc000, 0xc000], // -2
      [0x477f, 0x7bf8], // 65280, the largest bf16 below f16's overflow threshold
      [0x4780, 0x7c00], // 65536 overflows to +inf
      [0xc780, 0xfc00], // -65536 to -inf
      [0x3880, 0x0400], // 2^-14, the smallest f16 normal
      [0x387f, 0x03fc], // 255/128 · 2^-15 = 1020 · 2^-24, a subnormal, exact
      [0x3300, 0x0000], // 2^-25: half the smallest subnormal, tie to even → 0
      [0xb300, 0x8000], // -2^-25 → -0
      [0x3340, 0x0001], // 1.5 · 2^-25 = 0.75 units → 1
      [0x33c0, 0x0002], // 1.5 units, tie → 2
      [0x3420, 0x0002], // 2.5 units, tie → 2
      [0x3460, 0x0004], // 3.5 units, tie → 4
      [0x0001, 0x0000], // a bf16 subnormal underflows to +0
      [0x8001, 0x8000], // and keeps its sign
      [0x7f80, 0x7c00], // +inf
      [0xff80, 0xfc00], // -inf
      [0x7fc0, 0x7e00], // NaN stays a (quiet) NaN
      [0xffc1, 0xfe00],
    ];
    assert.deepEqual(
      run16(
        'BF16',
        'F16',
        cases.map((c) => c[0]),
      ),
      cases.map((c) => c[1]),
    );
  });

  it('narrows every bf16 pattern to the correctly rounded f16 value', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const out = run16('BF16', 'F16', all);
    for (const bits of all) {
      const expected = roundToHalf(bf16ToF32(bits));
      const actual = f16ToF32(out[bits]);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `bf16 ${bits.toString(16)}`);
      else assert.ok(Object.is(actual, expected), `bf16 ${bits.toString(16)}: ${actual} vs ${expected}`);
    }
  });

  it('narrows f32 to f16 with ties to even, overflow and underflow', () => {
    const cases: [number, number][] = [
      [0x3f801000, 0x3c00], // 1 + 2^-11: tie → 1
      [0x3f803000, 0x3c02], // 1 + 3·2^-11: tie → even neighbour
      [0x3f801001, 0x3c01], // just above the tie
      [0x477fefff, 0x7bff], // just below 65520 → 65504
      [0x477ff000, 0x7c00], // 65520: tie between 65504 and 65536 → inf
      [0x33800000, 0x0001], // 2^-24
      [0x33000000, 0x0000], // 2^-25 → 0
      [0x00000001, 0x0000], // f32 subnormal → 0
      [0x7f800000, 0x7c00],
      [0xffc00000, 0xfe00],
    ];
    assert.deepEqual(
      f32BitsToF16Bits(cases.map((c) => c[0])),
      cases.map((c) => c[1]),
    );
  });

  it('narrows f32 to bf16 with ties to even, overflow to inf and NaN kept quiet', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f80], // 1
      [0x3f808000, 0x3f80], // 1 + 2^-8: tie → even (down)
      [0x3f818000, 0x3f82], // 1 + 3·2^-8: tie → even (up)
      [0x3f808001, 0x3f81], // just above the tie
      [0x7f7fffff, 0x7f80], // FLT_MAX rounds to inf
      [0x80000001, 0x8000], // -tiny subnormal → -0
      [0x7f800001, 0x7fc0], // signalling NaN becomes quiet
      [0xff800000, 0xff80],
    ];
    const src = new Uint8Array(new Uint32Array(cases.map((c) => c[0])).buffer);
    const dst = new Uint8Array(cases.length * 2);
    transcode(src, 'F32', dst, 'BF16', cases.length);
    assert.deepEqual(
      [...new Uint16Array(dst.buffer)],
      cases.map((c) => c[1]),
    );
  });

  it('widens f16 to f32 exactly, NaN payload kept', () => {
    assert.deepEqual(
      run16('F16', 'F32', [0x0001, 0x7bff, 0xfc00, 0x7e01, 0x8000]),
      [0x33800000, 0x477fe000, 0xff800000, 0x7fc02000, 0x80000000],
    );
  });

  it('copies bytes when the dtypes are equal and refuses unsupported pairs', () => {
    const src = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const dst = new Uint8Array(8);
    transcode(src, 'I64', dst, 'I64', 1);
    assert.deepEqual([...dst], [...src]);
    assert.equal(canTranscode('BF16', 'F16'), true);
    assert.equal(canTranscode('F16', 'BF16'), false);
    assert.throws(() => transcode(src, 'F16', dst, 'BF16', 2), TranscodeError);
    assert.throws(() => transcode(src, 'BF16', dst, 'F32', 4), RangeError);
  });
});
