import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot, relativeL2, SafetensorsFile } from '@step1x/tensors';
import { applyGuidance, GUIDANCE_DEFAULTS, renormDivisor } from './cfg';
import { eulerStep, eulerStepSize } from './flow-match-euler';

const TOLERANCE = 1e-6;
const tinyDir = () => join(goldenRoot(), 'step1x-tiny');

/** Rows [row, 0:tokens) of a [2, 2N, C] prediction tensor. */
function predictionRows(pred: Float32Array, shape: readonly number[], row: number, tokens: number): Float32Array {
  const [, seq, channels] = shape;
  const start = row * seq * channels;
  return pred.slice(start, start + tokens * channels);
}

describe('applyGuidance + eulerStep against golden cfg_step', () => {
  const file = SafetensorsFile.open(join(tinyDir(), 'cfg_step.safetensors'));
  const params = (
    JSON.parse(readFileSync(join(tinyDir(), 'cfg_step.json'), 'utf8')) as {
      params: { N: number; cfg_guidance: number; timesteps_truncate: number; renorm_k: number };
    }
  ).params;
  const options = { guidance: params.cfg_guidance, truncate: params.timesteps_truncate, renormK: params.renorm_k };
  const x = file.readFloat32('x');
  const tokens = file.info('x').shape[1];
  const predShape = file.info('dit_pred').shape;
  const pred = file.readFloat32('dit_pred');
  const cond = predictionRows(pred, predShape, 0, tokens);
  const uncond = predictionRows(pred, predShape, 1, tokens);

  it('renorm branch: x_next_renorm, diff_norm and renorm_divisor', () => {
    const [tCurr, tPrev] = file.readFloat32('timesteps_renorm');
    assert.ok(tCurr > options.truncate, 'the renorm case must have t_curr above the truncation');
    const guided = applyGuidance(cond, uncond, tCurr, options);
    assert.equal(guided.renormalised, true);
    const next = eulerStep(x, guided.velocity, tCurr, tPrev);
    const errNext = relativeL2(next, file.readFloat32('x_next_renorm'));
    const errNorm = relativeL2(guided.diffNorms!, file.readFloat32('diff_norm'));
    const errDiv = relativeL2(guided.divisors!, file.readFloat32('renorm_divisor'));
    assert.ok(errNext <= TOLERANCE, `x_next_renorm rel L2 ${errNext}`);
    assert.ok(errNorm <= TOLERANCE, `diff_norm rel L2 ${errNorm}`);
    assert.ok(errDiv <= TOLERANCE, `renorm_divisor rel L2 ${errDiv}`);
  });

  it('plain branch: x_next_plain', () => {
    const [tCurr, tPrev] = file.readFloat32('timesteps_plain');
    assert.ok(!(tCurr > options.truncate));
    const guided = applyGuidance(cond, uncond, tCurr, options);
    assert.equal(guided.renormalised, false);
    assert.equal(guided.diffNorms, null);
    const err = relativeL2(eulerStep(x, guided.velocity, tCurr, tPrev), file.readFloat32('x_next_plain'));
    assert.ok(err <= TOLERANCE, `x_next_plain rel L2 ${err}`);
  });

  it('the divisor is 1 at and below norm 1 and n^k above it', () => {
    const norms = file.readFloat32('diff_norm');
    const divisors = file.readFloat32('renorm_divisor');
    for (let i = 0; i < norms.length; i++) {
      if (norms[i] <= 1) assert.equal(divisors[i], 1);
      assert.ok(Math.abs(renormDivisor(norms[i], options.renormK) - divisors[i]) <= 1e-6 * divisors[i]);
    }
  });
});

describe('applyGuidance + eulerStep against the golden sampler steps (teacher-forced)', () => {
  const manifest = JSON.parse(readFileSync(join(tinyDir(), 'manifest.json'), 'utf8')) as {
    cases: { case: string; file: string }[];
    config: { runtime: { cfg_guidance: number; timesteps_truncate: number; renorm_k: number } };
  };
  const runtime = manifest.config.runtime;
  const options = { guidance: runtime.cfg_guidance, truncate: runtime.timesteps_truncate, renormK: runtime.renorm_k };

  for (const entry of manifest.cases.filter((c) => c.case.startsWith('sampler_'))) {
    it(`${entry.case}: latents[k] + CFG(dit_outputs[k]) gives latents[k+1]`, () => {
      const file = SafetensorsFile.open(join(tinyDir(), entry.file));
      try {
        const ts = file.readFloat32('timesteps');
        const [steps, tokens, channels] = file.info('latents').shape;
        const latents = file.readFloat32('latents');
        const outputsShape = file.info('dit_outputs').shape; // [steps-1, 2, 2N, C]
        const outputs = file.readFloat32('dit_outputs');
        const perStep = outputsShape.slice(1).reduce((a, b) => a * b, 1);
        let renormSteps = 0;
        for (let k = 0; k + 1 < steps; k++) {
          const stepPred = outputs.subarray(k * perStep, (k + 1) * perStep);
          const cond = predictionRows(stepPred, outputsShape.slice(1), 0, tokens);
          const uncond = predictionRows(stepPred, outputsShape.slice(1), 1, tokens);
          const guided = applyGuidance(cond, uncond, ts[k], options);
          if (guided.renormalised) renormSteps++;
          const size = tokens * channels;
          const next = eulerStep(latents.subarray(k * size, (k + 1) * size), guided.velocity, ts[k], ts[k + 1]);
          const err = relativeL2(next, latents.subarray((k + 1) * size, (k + 2) * size));
          assert.ok(err <= TOLERANCE, `step ${k}: rel L2 ${err}`);
        }
        assert.ok(renormSteps >= 1, 'the golden should exercise the renorm branch');
      } finally {
        file.close();
      }
    });
  }
});

describe('applyGuidance behaviour', () => {
  const cond = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) * 3);
  const uncond = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i));

  it('defaults to w = 6, truncate 0.93, k = 0.4', () => {
    assert.deepEqual(GUIDANCE_DEFAULTS, { guidance: 6, truncate: 0.93, renormK: 0.4, channels: 64 });
    const plain = applyGuidance(cond, uncond, 0.5);
    for (let i = 0; i < 128; i++)
      assert.ok(Math.abs(plain.velocity[i] - (uncond[i] + 6 * (cond[i] - uncond[i]))) < 1e-5);
  });

  it('renorm divides each token by its norm^k only when t_curr is above the truncation', () => {
    const above = applyGuidance(cond, uncond, 0.95);
    const at = applyGuidance(cond, uncond, 0.93);
    assert.equal(above.renormalised, true);
    assert.equal(at.renormalised, false);
    for (let token = 0; token < 2; token++) {
      const n = above.diffNorms![token];
      assert.ok(n > 1);
      assert.ok(Math.abs(above.divisors![token] - n ** 0.4) < 1e-5);
      const i = token * 64 + 5;
      const expected = uncond[i] + (6 * (cond[i] - uncond[i])) / n ** 0.4;
      assert.ok(Math.abs(above.velocity[i] - expected) < 1e-5);
    }
  });

  it('guidance 1 returns the cond prediction', () => {
    const v = applyGuidance(cond, uncond, 0.5, { guidance: 1 }).velocity;
    for (let i = 0; i < 128; i++) assert.ok(Math.abs(v[i] - cond[i]) < 1e-6);
  });

  it('rejects mismatched or partial tokens', () => {
    assert.throws(() => applyGuidance(cond, uncond.subarray(1), 0.5), RangeError);
    assert.throws(() => applyGuidance(cond.subarray(1), uncond.subarray(1), 0.5), RangeError);
  });
});

describe('eulerStep', () => {
  it('rounds t_prev − t_curr once to float32 and steps towards t_prev', () => {
    assert.equal(eulerStepSize(Math.fround(0.9), Math.fround(0.8)), Math.fround(Math.fround(0.8) - Math.fround(0.9)));
    const x = Float32Array.of(1, 2, 3);
    const v = Float32Array.of(10, -10, 0);
    const next = eulerStep(x, v, 1, 0.75);
    assert.deepEqual(Array.from(next), [-1.5, 4.5, 3]);
  });

  it('can write in place', () => {
    const x = Float32Array.of(1, 2);
    const out = eulerStep(x, Float32Array.of(4, 4), 0.5, 0, x);
    assert.equal(out, x);
    assert.deepEqual(Array.from(x), [-1, 0]);
  });
});
