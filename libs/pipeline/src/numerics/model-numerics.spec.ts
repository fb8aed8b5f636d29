import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ModelNumericsError, assertFiniteOutput, firstNonFinite } from './model-numerics';

describe('firstNonFinite / assertFiniteOutput', () => {
  it('finds the first NaN, +Inf or -Inf at any position, including the unrolled tail', () => {
    for (const length of [0, 1, 3, 4, 5, 17]) {
      const values = Float32Array.from({ length }, (_, i) => (i % 2 ? -0 : i * 1e30));
      assert.equal(firstNonFinite(values), -1, `finite, length ${length}`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (let at = 0; at < length; at++) {
          const poisoned = Float32Array.from(values);
          poisoned[at] = bad;
          if (at + 1 < length) poisoned[length - 1] = NaN;
          assert.equal(firstNonFinite(poisoned), at, `${bad} at ${at} of ${length}`);
        }
      }
    }
    // float32 overflow, as fp16/fp32 graphs produce it: 3e38 · 10 is +Inf.
    assert.equal(firstNonFinite(Float32Array.of(1, 3e38 * 10, 2)), 1);
  });

  it('throws ModelNumericsError naming the stage, element and value', () => {
    assert.doesNotThrow(() => assertFiniteOutput('mllm', Float32Array.of(0, 1, -1)));
    assert.throws(
      () => assertFiniteOutput('sampler', Float32Array.of(0, 1, -Infinity, NaN)),
      (error: unknown) =>
        error instanceof ModelNumericsError &&
        error.code === 'model_numerics' &&
        error.checkpoint === 'sampler' &&
        error.index === 2 &&
        /-Infinity at element 2 of 4\) from the connector or the DiT/.test(error.message),
    );
  });
});
