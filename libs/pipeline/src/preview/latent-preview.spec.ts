import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LATENT_PREVIEW_FORMAT, assertLatentPreviewMap } from '@step1x/model-format';
import { cleanEstimate } from '../sampler/denoise';
import { fitLatentPreview, previewDesign, solvePreviewMap, type VaeSample } from './fit-latent-preview';
import { latentToPreview } from './latent-preview';

/** A sample whose decode is exactly W·z + b per latent pixel (constant over its 8×8 block), plus optional noise. */
function linearSample(weights: number[][], bias: number[], seed: number, noise = 0): VaeSample {
  const channels = weights[0].length;
  const [h, w] = [4, 6];
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const latent = Float32Array.from({ length: channels * h * w }, random);
  const decoded = new Float32Array(3 * 64 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 8 * h; y++) {
      for (let x = 0; x < 8 * w; x++) {
        const p = Math.floor(y / 8) * w + Math.floor(x / 8);
        let v = bias[c];
        for (let k = 0; k < channels; k++) v += weights[c][k] * latent[k * h * w + p];
        decoded[c * 64 * h * w + y * 8 * w + x] = v + noise * random();
      }
    }
  }
  return { latent, decoded, channels, height: h, width: w };
}

const W = [
  [0.5, -0.2, 0.1, 0],
  [0.1, 0.3, -0.4, 0.2],
  [-0.3, 0, 0.2, 0.6],
];
const B = [0.1, -0.05, 0.2];

describe('latent preview map: least-squares fit', () => {
  it('recovers an exactly linear decoder (R² = 1) from block-averaged decodes', () => {
    const train = [1, 2, 3].map((s) => linearSample(W, B, s));
    const map = fitLatentPreview(train, [linearSample(W, B, 9)], 'abc');
    for (let c = 0; c < 3; c++) {
      map.weights[c].forEach((v, k) => assert.ok(Math.abs(v - W[c][k]) < 1e-4, `w[${c}][${k}] = ${v}`));
      assert.ok(Math.abs(map.bias[c] - B[c]) < 1e-4);
    }
    assert.ok(map.fit.r2_heldout > 0.9999);
    assert.ok(map.fit.r2_heldout_mean_predictor <= 0);
    assert.equal(map.fit.vae_decoder_sha256, 'abc');
    assert.equal(assertLatentPreviewMap(JSON.parse(JSON.stringify(map)), 'json').format, LATENT_PREVIEW_FORMAT);
  });

  it('with noise in the decodes: held-out R² drops below 1 but beats the mean predictor', () => {
    const map = fitLatentPreview(
      [1, 2, 3, 4].map((s) => linearSample(W, B, s, 0.5)),
      [linearSample(W, B, 11, 0.5)],
      null,
    );
    assert.ok(map.fit.r2_heldout < 0.999 && map.fit.r2_heldout > map.fit.r2_heldout_mean_predictor);
  });

  it('refuses a design with fewer rows than unknowns', () => {
    const design = previewDesign([linearSample(W, B, 1)]);
    assert.throws(
      () => solvePreviewMap({ ...design, x: design.x.slice(0, 3), y: design.y.slice(0, 3) }),
      /cannot determine/,
    );
  });
});

describe('latentToPreview', () => {
  it('applies W·z + b per latent pixel and maps [−1, 1] to 8 bits, clamped', () => {
    const map = assertLatentPreviewMap(
      {
        format: LATENT_PREVIEW_FORMAT,
        channels: 2,
        weights: [
          [1, 0],
          [0, 1],
          [1, 1],
        ],
        bias: [0, 0, -1],
        fit: {},
      },
      'inline',
    );
    // 1×2 latent, NCHW: channel 0 = [0, 1], channel 1 = [−1, 0.5]
    const image = latentToPreview(Float32Array.of(0, 1, -1, 0.5), 1, 2, map);
    assert.deepEqual([image.width, image.height], [2, 1]);
    // pixel 0: r = 0 → 128, g = −1 → 0, b = −1 − 1 → clamped −1 → 0; pixel 1: r = 1 → 255, g = 0.5 → 191, b = 0.5 → 191
    assert.deepEqual([...image.data], [128, 0, 0, 255, 191, 191]);
  });

  it('refuses a latent of the wrong size and a malformed map', () => {
    const map = { format: LATENT_PREVIEW_FORMAT, channels: 1, weights: [[1], [1], [1]], bias: [0, 0, 0], fit: {} };
    assert.throws(() => latentToPreview(new Float32Array(3), 1, 2, assertLatentPreviewMap(map, 'm')), RangeError);
    assert.throws(() => assertLatentPreviewMap({ ...map, weights: [[1], [1]] }, 'm'), /3 rows/);
    assert.throws(() => assertLatentPreviewMap({ ...map, bias: [0, NaN, 0] }, 'm'), /bias/);
  });
});

describe('cleanEstimate', () => {
  it('is x_t − t·v: at t = 1 from pure noise it gives noise − v = x₀', () => {
    const x0 = Float32Array.of(0.25, -0.5, 1);
    const noise = Float32Array.of(1, 2, -1);
    const v = noise.map((n, i) => n - x0[i]);
    const t = 0.75;
    const xt = x0.map((x, i) => (1 - t) * x + t * noise[i]);
    const estimate = cleanEstimate(xt, v, t);
    estimate.forEach((value, i) => assert.ok(Math.abs(value - x0[i]) < 1e-6));
  });
});
