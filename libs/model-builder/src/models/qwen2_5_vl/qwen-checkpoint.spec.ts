import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namedQwenConfig } from '../../build/tiny-qwen-models';
import { BuildOptions } from '../../graph/module';
import { TableLayout, TensorTable, checkpointTablesRoot, readTensorTable } from '../../weights/tensor-table';
import {
  TableMutation,
  mutateTensorTable,
  writeShardedSyntheticCheckpoint,
  writeSyntheticCheckpoint,
} from '../../weights/synthetic-checkpoint';
import { StateDictMismatchError } from '../../weights/weight-errors';
import { qwenParameterTable } from './qwen-graphs';
import { checkQwenWeights, openQwenCheckpoint } from './qwen-weights';

/**
 * The full-size proof: the published Qwen2.5-VL-7B-Instruct tensor table (shared/checkpoints), in both name layouts,
 * single-file and sharded, loads strictly against the parameter table of our 7B graphs. The synthetic files are
 * sparse (header + ftruncate), so 16.6 GB checkpoints cost no disk blocks.
 */
const TABLE_FILE = 'qwen2.5-vl-7b-instruct.tensors.json';
const FP32: BuildOptions = { precision: 'fp32', attention: 'fused' };

function table(layout: TableLayout): TensorTable {
  return readTensorTable(join(checkpointTablesRoot(), TABLE_FILE), layout);
}

function loadStrictly(path: string): void {
  const expected = qwenParameterTable(namedQwenConfig('7b'), FP32);
  const weights = openQwenCheckpoint(path, expected);
  try {
    checkQwenWeights(expected, weights, path);
  } finally {
    weights.close();
  }
}

function mismatch(fn: () => void): StateDictMismatchError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StateDictMismatchError, String(err));
    return err;
  }
  assert.fail('the strict load should have failed');
}

describe('Qwen2.5-VL-7B checkpoint table vs our full-size graphs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'qwen-7b-table-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has exactly the parameters of the released checkpoint without lm_head (7,747,169,280), in fp32 and fp16 builds', () => {
    const ours = qwenParameterTable(namedQwenConfig('7b'), FP32);
    const hf5 = table('hf5');
    const count = [...ours.values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(count, 7_747_169_280);
    assert.equal(ours.size, hf5.size - 1);
    for (const [name, spec] of hf5) {
      if (name === 'lm_head.weight') continue;
      assert.deepEqual(ours.get(name), spec.shape, name);
    }
    assert.deepEqual(qwenParameterTable(namedQwenConfig('7b'), { precision: 'fp16', attention: 'plain' }), ours);
  });

  for (const layout of ['published', 'hf5'] as const) {
    it(`loads the ${layout} layout strictly from one file and from shards (lm_head ignored)`, () => {
      const single = join(dir, `${layout}.safetensors`);
      writeSyntheticCheckpoint(single, table(layout));
      loadStrictly(single);
      const index = writeShardedSyntheticCheckpoint(join(dir, `${layout}-sharded`), table(layout), { shards: 5 });
      loadStrictly(index);
      loadStrictly(join(dir, `${layout}-sharded`));
    });
  }

  const cases: { what: string; mutation: (t: TensorTable) => TableMutation; expect: RegExp }[] = [
    {
      what: 'a missing tensor',
      mutation: () => ({ kind: 'drop', name: 'visual.blocks.31.mlp.down_proj.bias' }),
      expect: /missing: +model\.visual\.blocks\.31\.mlp\.down_proj\.bias/,
    },
    {
      what: 'an extra tensor',
      mutation: () => ({ kind: 'add', name: 'visual.blocks.32.norm1.weight', spec: { dtype: 'BF16', shape: [1280] } }),
      expect: /unexpected: +model\.visual\.blocks\.32\.norm1\.weight/,
    },
    {
      what: 'a misshaped tensor',
      mutation: () => ({ kind: 'reshape', name: 'model.layers.27.self_attn.k_proj.weight', shape: [3584, 3584] }),
      expect: /misshaped: +model\.language_model\.layers\.27\.self_attn\.k_proj\.weight/,
    },
  ];
  for (const c of cases) {
    it(`fails on ${c.what}, naming it`, () => {
      const path = join(dir, `mutated-${c.what.replace(/\W+/g, '-')}.safetensors`);
      const published = table('published');
      writeSyntheticCheckpoint(path, mutateTensorTable(published, c.mutation(published)));
      const err = mismatch(() => loadStrictly(path));
      assert.match(err.message, c.expect);
      assert.equal(err.code, 'state_dict_mismatch');
    });
  }
});
