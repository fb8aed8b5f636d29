import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '@step1x/tensors';
import { parameterKind, randomParameter, randomStateDict, weightStd, writeStateDict } from './random-init';
import { checkpointTablesRoot, readTensorTable } from './tensor-table';

function moments(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(sumSq / values.length - mean * mean) };
}

describe('random tiny weights (docs/MODEL.md §5)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-random-init-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('classifies the official parameter names', () => {
    const cases: [string, number[], string][] = [
      ['double_blocks.0.img_attn.qkv.weight', [9216, 3072], 'weight'],
      ['double_blocks.0.img_mod.lin.weight', [18432, 3072], 'weight'],
      ['double_blocks.0.img_mod.lin.bias', [18432], 'bias'],
      ['double_blocks.0.img_attn.norm.query_norm.scale', [128], 'norm-scale'],
      ['connector.S.individual_token_refiner.blocks.0.norm1.weight', [4096], 'norm-scale'],
      ['decoder.norm_out.weight', [128], 'norm-scale'],
      ['model.language_model.layers.0.input_layernorm.weight', [3584], 'norm-scale'],
      ['model.visual.merger.ln_q.weight', [1280], 'norm-scale'],
      ['connector.scale_factor', [1], 'weight'],
      ['model.visual.patch_embed.proj.weight', [1280, 3, 2, 14, 14], 'weight'],
    ];
    for (const [name, shape, kind] of cases) assert.equal(parameterKind(name, shape), kind, name);
  });

  it('draws every DiT, VAE and Qwen parameter kind in the released tables', () => {
    const root = checkpointTablesRoot();
    const kinds = new Set<string>();
    for (const file of ['step1x-edit-v1p0.tensors.json', 'vae.tensors.json', 'qwen2.5-vl-7b-instruct.tensors.json']) {
      for (const [name, spec] of readTensorTable(join(root, file))) {
        const kind = parameterKind(name, spec.shape);
        kinds.add(kind);
        if (spec.shape.length === 1 && !name.endsWith('.bias') && name !== 'connector.scale_factor') {
          assert.equal(kind, 'norm-scale', `${name} is a 1-D non-bias tensor that is not a norm scale`);
        }
      }
    }
    assert.deepEqual([...kinds].sort(), ['bias', 'norm-scale', 'weight']);
  });

  it('gives weights σ = clip(1/√fan_in, 0.02, 0.2), biases σ = 0.05 and norm scales 1 + 0.1·N(0,1)', () => {
    assert.equal(weightStd([64, 16]), 0.2);
    assert.equal(weightStd([64, 100]), 0.1);
    assert.equal(weightStd([64, 3, 2, 14, 14]), Math.max(0.02, 1 / Math.sqrt(3 * 2 * 14 * 14)));
    assert.equal(weightStd([8, 10000]), 0.02);
    const cases: [string, number[], number, number][] = [
      ['blocks.0.linear.weight', [400, 100], 0, 0.1],
      ['blocks.0.conv.weight', [100, 3, 20, 20], 0, 1 / Math.sqrt(1200)],
      ['blocks.0.wide.weight', [20, 10000], 0, 0.02],
      ['blocks.0.linear.bias', [40000], 0, 0.05],
      ['blocks.0.norm.scale', [40000], 1, 0.1],
    ];
    for (const [name, shape, mean, std] of cases) {
      const m = moments(randomParameter(name, shape, 11));
      assert.ok(Math.abs(m.mean - mean) < (4 * std) / Math.sqrt(40000), `${name} mean ${m.mean}`);
      assert.ok(Math.abs(m.std / std - 1) < 0.03, `${name} std ${m.std} vs ${std}`);
    }
  });

  it('depends only on (seed, name): adding or reordering parameters changes nothing else', () => {
    const a = randomStateDict(
      new Map([
        ['x.weight', [8, 4]],
        ['y.bias', [8]],
      ]),
      5,
    );
    const b = randomStateDict(
      new Map([
        ['new.weight', [3, 3]],
        ['y.bias', [8]],
        ['x.weight', [8, 4]],
      ]),
      5,
    );
    assert.deepEqual([...b.get('x.weight')!], [...a.get('x.weight')!]);
    assert.deepEqual([...b.get('y.bias')!], [...a.get('y.bias')!]);
    const otherSeed = randomStateDict(new Map([['x.weight', [8, 4]]]), 6);
    assert.notDeepEqual([...otherSeed.get('x.weight')!], [...a.get('x.weight')!]);
    assert.notDeepEqual([...randomParameter('z.weight', [8, 4], 5)], [...a.get('x.weight')!]);
  });

  it('writes a state dict to safetensors as F32 exactly and as BF16 rounded', () => {
    const shapes = new Map([
      ['p.weight', [3, 5]],
      ['p.bias', [3]],
    ]);
    const state = randomStateDict(shapes, 1);
    const f32Path = join(dir, 'state-f32.safetensors');
    const bf16Path = join(dir, 'state-bf16.safetensors');
    writeStateDict(f32Path, state, shapes, { metadata: { seed: '1' } });
    writeStateDict(bf16Path, state, shapes, { dtype: 'BF16' });
    const f32 = SafetensorsFile.open(f32Path);
    const bf16 = SafetensorsFile.open(bf16Path);
    try {
      assert.deepEqual(f32.metadata, { seed: '1' });
      assert.deepEqual(f32.info('p.weight').shape, [3, 5]);
      assert.deepEqual([...f32.readFloat32('p.weight')], [...state.get('p.weight')!]);
      assert.equal(bf16.info('p.bias').dtype, 'BF16');
      const rounded = bf16.readFloat32('p.weight');
      state
        .get('p.weight')!
        .forEach((v, i) => assert.ok(Math.abs(rounded[i] - v) <= Math.abs(v) * 2 ** -8, `${v} vs ${rounded[i]}`));
    } finally {
      f32.close();
      bf16.close();
    }
    assert.throws(
      () =>
        writeStateDict(
          f32Path,
          state,
          new Map([
            ['p.weight', [3, 5]],
            ['p.bias', [4]],
          ]),
        ),
      /p\.bias/,
    );
  });
});
