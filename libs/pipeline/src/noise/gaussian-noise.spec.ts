import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { philox4x32 } from '@step1x/tensors';
import { gaussianNoise } from './gaussian-noise';

/** Words of Philox4x32-10 block (c0..c3) under key (k0, k1). */
function philoxWords(counter: number[], key: number[]): number[] {
  const out = new Uint32Array(4);
  philox4x32(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
  return [...out];
}

describe('Philox4x32-10 (the generator under the noise)', () => {
  it('reproduces the Random123 known-answer vectors', () => {
    // Checked independently against an arbitrary-precision implementation and Random123's kat_vectors file.
    assert.deepEqual(philoxWords([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const ones = 0xffffffff;
    assert.deepEqual(
      philoxWords([ones, ones, ones, ones], [ones, ones]),
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    );
  });
});

describe('gaussianNoise', () => {
  it('follows the documented stream: block b, key = seed words, Box–Muller per word pair', () => {
    const seed = 0x1_0000_0007; // both key words non-zero
    const noise = gaussianNoise(seed, [2, 3]);
    for (let block = 0; block < 2; block++) {
      const w = philoxWords([block, 0, 0, 0], [7, 1]);
      const u = w.map((word) => (word + 0.5) / 2 ** 32);
      const r1 = Math.sqrt(-2 * Math.log(u[0]));
      const r2 = Math.sqrt(-2 * Math.log(u[2]));
      const expected = [
        r1 * Math.cos(2 * Math.PI * u[1]),
        r1 * Math.sin(2 * Math.PI * u[1]),
        r2 * Math.cos(2 * Math.PI * u[3]),
        r2 * Math.sin(2 * Math.PI * u[3]),
      ].map(Math.fround);
      for (let lane = 0; lane < 4 && block * 4 + lane < noise.length; lane++) {
        assert.equal(noise[block * 4 + lane], expected[lane], `element ${block * 4 + lane}`);
      }
    }
  });

  it('is deterministic, and bigint and number seeds agree', () => {
    const a = gaussianNoise(42, [1, 16, 8, 8]);
    assert.equal(a.length, 1024);
    assert.deepEqual(gaussianNoise(42, [1, 16, 8, 8]), a);
    assert.deepEqual(gaussianNoise(42n, [1024]), a);
  });

  it('differs between seeds, including seeds that differ only in the high word', () => {
    const base = gaussianNoise(1234, [4096]);
    for (const other of [1235, 1234 + 2 ** 32]) {
      const b = gaussianNoise(other, [4096]);
      let same = 0;
      for (let i = 0; i < b.length; i++) if (b[i] === base[i]) same++;
      assert.ok(same < 4, `seed ${other} shares ${same} values with seed 1234`);
    }
  });

  it('has mean ≈ 0, std ≈ 1 and sane tails over 1e5 samples', () => {
    const n = 100_000;
    const x = gaussianNoise(20250522, [n]);
    let sum = 0;
    let sumSquares = 0;
    let beyond3 = 0;
    for (const v of x) {
      sum += v;
      sumSquares += v * v;
      if (Math.abs(v) > 3) beyond3++;
    }
    const mean = sum / n;
    const std = Math.sqrt(sumSquares / n - mean * mean);
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.02, `std ${std}`);
    // P(|z| > 3) = 0.0027: expect ~270.
    assert.ok(beyond3 > 150 && beyond3 < 400, `${beyond3} samples beyond 3σ`);
    assert.ok(x.every(Number.isFinite));
  });

  it('rejects bad seeds and shapes', () => {
    assert.throws(() => gaussianNoise(-1, [4]), RangeError);
    assert.throws(() => gaussianNoise(1.5, [4]), RangeError);
    assert.throws(() => gaussianNoise(1n << 64n, [4]), RangeError);
    assert.throws(() => gaussianNoise(1, [2, -1]), RangeError);
    assert.equal(gaussianNoise(1, [0, 16]).length, 0);
  });
});
