import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TensorSpec } from '@step1x/tensors';
import { Checkpoint } from './checkpoint';
import { compareStateDict, loadStateDictStrict } from './state-dict';
import { mutateTensorTable, writeSyntheticCheckpoint } from './synthetic-checkpoint';
import { byteLengthOf, checkpointTablesRoot, parameterTableOf, readTensorTable } from './tensor-table';
import { StateDictMismatchError } from './weight-errors';

const small = new Map<string, TensorSpec>([
  ['a.weight', { dtype: 'BF16', shape: [4, 3] }],
  ['a.bias', { dtype: 'BF16', shape: [4] }],
  ['b.weight', { dtype: 'F32', shape: [2, 4] }],
  ['b.norm.scale', { dtype: 'F32', shape: [2] }],
]);

function mismatch(fn: () => unknown): StateDictMismatchError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StateDictMismatchError, String(err));
    assert.equal(err.code, 'state_dict_mismatch');
    return err;
  }
  assert.fail('expected a StateDictMismatchError');
}

describe('loadStateDictStrict', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-state-dict-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('binds every expected parameter of a matching checkpoint, in the expected order', () => {
    const path = join(dir, 'ok.safetensors');
    writeSyntheticCheckpoint(path, small);
    const ckpt = Checkpoint.open(path);
    try {
      const expected = new Map([...parameterTableOf(small)].reverse());
      const result = loadStateDictStrict(expected, ckpt);
      assert.deepEqual([...result.matched.keys()], [...expected.keys()]);
      assert.equal(result.matched.get('b.weight')?.dtype, 'F32');
    } finally {
      ckpt.close();
    }
  });

  it('names every missing, unexpected and misshaped tensor in one error', () => {
    let table = mutateTensorTable(small, { kind: 'drop', name: 'a.bias' });
    table = mutateTensorTable(table, { kind: 'add', name: 'extra.weight', spec: { dtype: 'F32', shape: [3] } });
    table = mutateTensorTable(table, { kind: 'reshape', name: 'b.weight', shape: [4, 2] });
    const path = join(dir, 'bad.safetensors');
    writeSyntheticCheckpoint(path, table);
    const ckpt = Checkpoint.open(path);
    try {
      const err = mismatch(() => loadStateDictStrict(parameterTableOf(small), ckpt));
      assert.deepEqual(err.problems.missing, ['a.bias']);
      assert.deepEqual(err.problems.unexpected, ['extra.weight']);
      assert.deepEqual(err.problems.misshaped, [{ name: 'b.weight', expected: [2, 4], actual: [4, 2] }]);
      assert.match(err.message, /missing: +a\.bias \[4\]/);
      assert.match(err.message, /unexpected: +extra\.weight \[3\]/);
      assert.match(err.message, /misshaped: +b\.weight expected \[2, 4\], checkpoint has \[4, 2\]/);
      assert.ok(err.message.includes(path));
    } finally {
      ckpt.close();
    }
  });

  it('accepts optional, ignored and allowed-unused tensors only when told', () => {
    const table = mutateTensorTable(mutateTensorTable(small, { kind: 'drop', name: 'b.norm.scale' }), {
      kind: 'add',
      name: 'lm_head.weight',
      spec: { dtype: 'BF16', shape: [2, 2] },
    });
    const withScale = mutateTensorTable(table, {
      kind: 'add',
      name: 'scale_factor',
      spec: { dtype: 'BF16', shape: [1] },
    });
    const expected = parameterTableOf(small);
    const strict = compareStateDict(expected, { tensors: withScale });
    assert.deepEqual([strict.missing, strict.unexpected], [['b.norm.scale'], ['lm_head.weight', 'scale_factor']]);
    const lenient = loadStateDictStrict(
      expected,
      { tensors: withScale },
      {
        optional: ['*.norm.scale'],
        ignore: ['lm_head.*'],
        allowUnused: ['scale_factor'],
      },
    );
    assert.deepEqual(lenient.absentOptional, ['b.norm.scale']);
    assert.deepEqual(lenient.ignored, ['lm_head.weight']);
    assert.deepEqual(lenient.unusedAllowed, ['scale_factor']);
    assert.equal(lenient.matched.size, 3);
  });

  it('refuses a tensor of a dtype that is not allowed', () => {
    const table = new Map(small);
    table.set('a.bias', { dtype: 'I64', shape: [4] });
    const err = mismatch(() =>
      loadStateDictStrict(parameterTableOf(small), { tensors: table }, { sourceName: 'table' }),
    );
    assert.deepEqual(err.problems.mistyped, [{ name: 'a.bias', dtype: 'I64', allowed: ['F32', 'F16', 'BF16'] }]);
    assert.match(err.message, /^table does not match/);
  });
});

describe('strict loading of the full-size Step1X-Edit DiT header', () => {
  let dir: string;
  let v1p1Path: string;
  let v1p0Path: string;
  const root = checkpointTablesRoot();
  const v1p1 = readTensorTable(join(root, 'step1x-edit-v1p1.tensors.json'));
  const v1p0 = readTensorTable(join(root, 'step1x-edit-v1p0.tensors.json'));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-dit-header-'));
    v1p1Path = join(dir, 'step1x-edit-v1p1-official.safetensors');
    v1p0Path = join(dir, 'step1x-edit-i1258.safetensors');
    writeSyntheticCheckpoint(v1p1Path, v1p1, { fill: 'sparse' });
    writeSyntheticCheckpoint(v1p0Path, v1p0, { fill: 'sparse' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads all 816 v1.1 tensors strictly from a sparse 24.9 GB file', () => {
    const dataBytes = [...v1p1.values()].reduce((n, s) => n + byteLengthOf(s), 0);
    assert.equal(dataBytes, 24_855_600_768);
    assert.ok(statSync(v1p1Path).size > dataBytes);
    const ckpt = Checkpoint.open(v1p1Path);
    try {
      const result = loadStateDictStrict(parameterTableOf(v1p1), ckpt);
      assert.equal(result.matched.size, 816);
      assert.ok([...result.matched.values()].every((t) => t.dtype === 'BF16'));
    } finally {
      ckpt.close();
    }
  });

  it("reports v1.0's connector.scale_factor as unexpected for v1.1 unless the caller allows it", () => {
    const ckpt = Checkpoint.open(v1p0Path);
    try {
      const err = mismatch(() => loadStateDictStrict(parameterTableOf(v1p1), ckpt));
      assert.deepEqual(err.problems.unexpected, ['connector.scale_factor']);
      assert.deepEqual([err.problems.missing, err.problems.misshaped], [[], []]);
      assert.match(err.message, /unexpected: +connector\.scale_factor \[1\]/);
      const allowed = loadStateDictStrict(parameterTableOf(v1p1), ckpt, { allowUnused: ['connector.scale_factor'] });
      assert.deepEqual(allowed.unusedAllowed, ['connector.scale_factor']);
    } finally {
      ckpt.close();
    }
  });

  it('names the one dropped DiT tensor and the one reshaped', () => {
    let table = mutateTensorTable(v1p1, { kind: 'drop', name: 'single_blocks.37.linear2.weight' });
    table = mutateTensorTable(table, {
      kind: 'reshape',
      name: 'double_blocks.5.img_attn.qkv.weight',
      shape: [9216, 3071],
    });
    const err = mismatch(() => loadStateDictStrict(parameterTableOf(v1p1), { tensors: table }));
    assert.deepEqual(err.problems.missing, ['single_blocks.37.linear2.weight']);
    assert.deepEqual(err.problems.misshaped, [
      { name: 'double_blocks.5.img_attn.qkv.weight', expected: [9216, 3072], actual: [9216, 3071] },
    ]);
  });
});
