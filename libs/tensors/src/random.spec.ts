import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, normalFloat32, philox4x32, splitUint64, streamIdOf } from './random';

/** An independent Philox4x32-10 written with BigInt arithmetic, to check the float64 high-word trick. */
function philoxReference(ctr: number[], key: number[]): number[] {
  const M = [0xd2511f53n, 0xcd9e8d57n];
  const W = [0x9e3779b9n, 0xbb67ae85n];
  const MASK = 0xffffffffn;
  let c = ctr.map(BigInt);
  const k = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k[0] = (k[0] + W[0]) & MASK;
      k[1] = (k[1] + W[1]) & MASK;
    }
    const p0 = M[0] * c[0];
    const p1 = M[1] * c[2];
    c = [(p1 >> 32n) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32n) ^ c[3] ^ k[1], p0 & MASK];
  }
  return c.map(Number);
}

function words(ctr: number[], key: number[]): number[] {
  const out = new Uint32Array(4);
  philox4x32(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
  return [...out];
}

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    assert.deepEqual(words([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    assert.deepEqual(
      words([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    );
    assert.deepEqual(
      words([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    );
  });

  it('agrees with a BigInt reference on many counters and keys', () => {
    let state = 12345;
    const next = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state;
    };
    for (let i = 0; i < 2000; i++) {
      const ctr = [next(), next(), next(), next()];
      const key = [next(), next()];
      assert.deepEqual(words(ctr, key), philoxReference(ctr, key), `ctr ${ctr} key ${key}`);
    }
  });

  it('maps the seed to the key and the stream and block to the counter as documented', () => {
    const seed = 0x1234_5678_9abcn * 65536n + 0xdef0n;
    const stream = 0xfedc_ba98_7654_3210n;
    const [k0, k1] = splitUint64(seed);
    const [s0, s1] = splitUint64(stream);
    const block = 2 ** 33 + 7;
    const expected = philoxReference([7, 2, s0, s1], [k0, k1]);
    assert.deepEqual([...new Philox(seed, stream).blockWords(block)], expected);
  });

  it('treats a number seed and the equal bigint seed alike, and rejects invalid seeds', () => {
    assert.deepEqual([...new Philox(2 ** 40 + 3).blockWords(5)], [...new Philox(2n ** 40n + 3n).blockWords(5)]);
    assert.throws(() => new Philox(-1), RangeError);
    assert.throws(() => new Philox(1.5), RangeError);
    assert.throws(() => new Philox(1n << 64n), RangeError);
  });

  it('fills words in block order, including a partial last block', () => {
    const philox = new Philox(9, 4);
    const out = philox.fillUint32(new Uint32Array(10), 3);
    const expected = [3, 4, 5].flatMap((b) => [...new Philox(9, 4).blockWords(b)]).slice(0, 10);
    assert.deepEqual([...out], expected);
  });
});

describe('normalFloat32 (Box–Muller over Philox)', () => {
  it('computes each element from its block exactly as documented', () => {
    const seed = 42;
    const values = normalFloat32(seed, 8, 3);
    const w = new Philox(seed, 3).blockWords(1);
    const u = (x: number) => (x + 0.5) / 2 ** 32;
    const r1 = Math.sqrt(-2 * Math.log(u(w[0])));
    const r2 = Math.sqrt(-2 * Math.log(u(w[2])));
    const expected = [r1 * Math.cos(2 * Math.PI * u(w[1])), r1 * Math.sin(2 * Math.PI * u(w[1]))];
    expected.push(r2 * Math.cos(2 * Math.PI * u(w[3])), r2 * Math.sin(2 * Math.PI * u(w[3])));
    assert.deepEqual([...values.subarray(4, 8)], expected.map(Math.fround));
  });

  it('gives the same elements whether drawn at once or in chunks from any start', () => {
    const whole = normalFloat32(7n, 103, 11);
    const pieces = [0, 1, 6, 13, 50, 103];
    for (let i = 0; i + 1 < pieces.length; i++) {
      const part = normalFloat32(7n, pieces[i + 1] - pieces[i], 11, pieces[i]);
      assert.deepEqual([...part], [...whole.subarray(pieces[i], pieces[i + 1])]);
    }
  });

  it('depends on the seed and on the stream', () => {
    const base = normalFloat32(1, 16, 0);
    assert.notDeepEqual([...normalFloat32(2, 16, 0)], [...base]);
    assert.notDeepEqual([...normalFloat32(1, 16, 1)], [...base]);
    assert.deepEqual([...normalFloat32(1, 16, 0)], [...base]);
  });

  it('has standard-normal moments', () => {
    const n = 200_000;
    const z = normalFloat32(2024, n, 5);
    let sum = 0;
    let sumSq = 0;
    let sum4 = 0;
    let beyond2 = 0;
    for (const v of z) {
      assert.ok(Number.isFinite(v));
      sum += v;
      sumSq += v * v;
      sum4 += v ** 4;
      if (Math.abs(v) > 2) beyond2++;
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.015, `variance ${variance}`);
    assert.ok(Math.abs(sum4 / n - 3) < 0.1, `fourth moment ${sum4 / n}`);
    assert.ok(Math.abs(beyond2 / n - 0.0455) < 0.003, `P(|z|>2) ${beyond2 / n}`);
  });
});

describe('streamIdOf', () => {
  it('is 64-bit FNV-1a of the UTF-8 bytes', () => {
    assert.equal(streamIdOf(''), 0xcbf29ce484222325n);
    assert.equal(streamIdOf('a'), 0xaf63dc4c8601ec8cn);
    assert.equal(streamIdOf('foobar'), 0x85944171f73967e8n);
    assert.notEqual(streamIdOf('blocks.0.weight'), streamIdOf('blocks.1.weight'));
  });
});
