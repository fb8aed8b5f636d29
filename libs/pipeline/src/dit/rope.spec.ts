import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot, relativeL2, SafetensorsFile } from '@step1x/tensors';
import { applyRope, buildPositionIds, buildRopeTables, ropeRotationMatrices, STEP1X_AXES_DIM } from './rope';

const TOLERANCE = 1e-6;

interface RopeParams {
  n_txt: number;
  grid: [number, number];
  grid_ns: [number, number];
  axes_dim: number[];
  theta: number;
}

describe('RoPE against golden rope_packing', () => {
  const dir = join(goldenRoot(), 'step1x-tiny');
  const params = (JSON.parse(readFileSync(join(dir, 'rope_packing.json'), 'utf8')) as { params: RopeParams }).params;
  const file = SafetensorsFile.open(join(dir, 'rope_packing.safetensors'));
  const grids: [string, string, [number, number]][] = [
    ['ids', 'pe', params.grid],
    ['ids_4x6', 'pe_4x6', params.grid_ns],
  ];

  for (const [idsName, peName, [gridHeight, gridWidth]] of grids) {
    it(`${idsName}: v1.1 position ids are exact`, () => {
      const ids = buildPositionIds({ textLength: params.n_txt, gridHeight, gridWidth });
      assert.deepEqual(ids, file.readFloat32(idsName));
    });

    it(`${peName}: rotation matrices within ${TOLERANCE}`, () => {
      const tables = buildRopeTables(file.readFloat32(idsName), params.axes_dim, params.theta);
      const pe = ropeRotationMatrices(tables);
      const err = relativeL2(pe, file.readFloat32(peName));
      assert.ok(err <= TOLERANCE, `${peName} rel L2 ${err}`);
    });
  }

  it('cos, sin, q_rot and k_rot within tolerance', () => {
    const tables = buildRopeTables(file.readFloat32('ids'), params.axes_dim, params.theta);
    const [, length, heads, headDim] = file.info('q').shape;
    assert.equal(tables.length, length);
    assert.equal(tables.pairs * 2, headDim);
    const errors: Record<string, number> = {
      cos: relativeL2(tables.cos, file.readFloat32('cos')),
      sin: relativeL2(tables.sin, file.readFloat32('sin')),
      q_rot: relativeL2(applyRope(file.readFloat32('q'), tables, heads), file.readFloat32('q_rot')),
      k_rot: relativeL2(applyRope(file.readFloat32('k'), tables, heads), file.readFloat32('k_rot')),
    };
    for (const [name, err] of Object.entries(errors)) assert.ok(err <= TOLERANCE, `${name} rel L2 ${err}`);
  });
});

describe('position ids', () => {
  it('v1.0 gives the reference tokens the noisy ids', () => {
    const ids = buildPositionIds({ textLength: 2, gridHeight: 2, gridWidth: 3, version: 'v1.0' });
    assert.equal(ids.length, (2 + 12) * 3);
    const noisy = ids.slice(2 * 3, 8 * 3);
    const ref = ids.slice(8 * 3, 14 * 3);
    assert.deepEqual(ref, noisy);
    assert.deepEqual(Array.from(noisy.slice(3 * 4, 3 * 5)), [0, 1, 1]); // token 4 = row 1, column 1
  });

  it('defaults to 640 text slots at (0,0,0) and v1.1 reference ids', () => {
    const ids = buildPositionIds({ gridHeight: 32, gridWidth: 32 });
    assert.equal(ids.length, (640 + 2048) * 3);
    assert.ok(ids.subarray(0, 640 * 3).every((v) => v === 0));
    const lastRef = ids.subarray(ids.length - 3);
    assert.deepEqual(Array.from(lastRef), [1, 32, 32]);
  });
});

describe('RoPE tables and application', () => {
  it('full-size axes give 64 pairs and the identity for text positions', () => {
    const ids = buildPositionIds({ textLength: 3, gridHeight: 1, gridWidth: 2 });
    const tables = buildRopeTables(ids);
    assert.equal(tables.pairs, STEP1X_AXES_DIM.reduce((a, b) => a + b) / 2);
    for (let k = 0; k < 3 * tables.pairs; k++) {
      assert.equal(tables.cos[k], 1);
      assert.equal(tables.sin[k], 0);
    }
  });

  it('uses frequency θ^(−2j/d) per axis, pairs concatenated in axis order', () => {
    const ids = Float32Array.of(3, 5); // one position, two axes
    const tables = buildRopeTables(ids, [2, 4], 100);
    // pairs: axis 0 j=0 (ω=1); axis 1 j=0 (ω=1), j=1 (ω=100^(-2/4) = 0.1)
    assert.equal(tables.pairs, 3);
    assert.equal(tables.cos[0], Math.fround(Math.cos(3)));
    assert.equal(tables.sin[1], Math.fround(Math.sin(5)));
    assert.equal(tables.cos[2], Math.fround(Math.cos(5 / 10)));
  });

  it('rotation preserves each pair norm and rotates interleaved dims', () => {
    const tables = buildRopeTables(Float32Array.of(0, 1, 2), [2, 2, 2], 10000);
    const x = Float32Array.of(1, 0, 0, 1, 3, 4, 1, 0, 0, 1, 3, 4); // 1 position, 2 heads, headDim 6
    const out = applyRope(x, tables, 2);
    // pair 0 angle 0; pair 1 angle 1 (axis 1 pos 1); pair 2 angle 2
    assert.equal(out[0], 1);
    assert.ok(Math.abs(out[2] - -Math.sin(1)) < 1e-7 && Math.abs(out[3] - Math.cos(1)) < 1e-7);
    assert.ok(Math.abs(Math.hypot(out[4], out[5]) - 5) < 1e-6);
    assert.deepEqual(out.slice(6), out.slice(0, 6));
  });
});
