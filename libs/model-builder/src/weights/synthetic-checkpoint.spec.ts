import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, TensorSpec } from '@step1x/tensors';
import { mutateTensorTable, syntheticTensorBytes, writeSyntheticCheckpoint } from './synthetic-checkpoint';

const table = new Map<string, TensorSpec>([
  ['odd.bf16', { dtype: 'BF16', shape: [37, 11] }],
  ['f32', { dtype: 'F32', shape: [5, 7] }],
  ['f16', { dtype: 'F16', shape: [3, 3] }],
  ['ids', { dtype: 'I64', shape: [4] }],
]);

describe('synthetic checkpoints', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-synthetic-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes exactly the table, with random data streamed in chunks that any range can reproduce', () => {
    const path = join(dir, 'random.safetensors');
    const info = writeSyntheticCheckpoint(path, table, { fill: 'random', seed: 9, chunkBytes: 48 });
    assert.equal(statSync(path).size, info.bytes);
    const file = SafetensorsFile.open(path);
    try {
      assert.deepEqual([...file.tensors.keys()], [...table.keys()]);
      for (const [name, spec] of table) {
        assert.deepEqual(file.info(name).shape, spec.shape);
        assert.equal(file.info(name).dtype, spec.dtype);
        const bytes = file.readBytes(name);
        assert.deepEqual(bytes, syntheticTensorBytes(name, spec.dtype, 9, 0, new Uint8Array(bytes.byteLength)));
        assert.deepEqual(
          bytes.subarray(32, 80),
          syntheticTensorBytes(name, spec.dtype, 9, 32, new Uint8Array(48)).subarray(
            0,
            Math.max(0, Math.min(48, bytes.byteLength - 32)),
          ),
        );
      }
      for (const name of ['odd.bf16', 'f32', 'f16']) {
        const values = file.readFloat32(name);
        assert.ok(
          values.every((v) => Number.isFinite(v) && Math.abs(v) >= 2 ** -7 && Math.abs(v) < 2),
          name,
        );
        assert.ok(values.some((v) => v < 0) && values.some((v) => v > 0), name);
        assert.ok(new Set(values).size > values.length / 2, `${name} values are varied`);
      }
    } finally {
      file.close();
    }
    const other = join(dir, 'random-seed-10.safetensors');
    writeSyntheticCheckpoint(other, table, { fill: 'random', seed: 10 });
    const a = SafetensorsFile.open(path);
    const b = SafetensorsFile.open(other);
    try {
      assert.notDeepEqual(a.readBytes('f32'), b.readBytes('f32'));
    } finally {
      a.close();
      b.close();
    }
  });

  it('writes a sparse file of the full size whose data reads as zeros', () => {
    const path = join(dir, 'sparse.safetensors');
    const info = writeSyntheticCheckpoint(path, table);
    assert.equal(statSync(path).size, info.bytes);
    assert.equal(info.dataBytes, 37 * 11 * 2 + 35 * 4 + 9 * 2 + 4 * 8);
    const file = SafetensorsFile.open(path);
    try {
      assert.ok(file.readBytes('f32').every((b) => b === 0));
    } finally {
      file.close();
    }
  });

  it('drops, adds, reshapes or renames exactly one tensor', () => {
    assert.deepEqual([...mutateTensorTable(table, { kind: 'drop', name: 'f32' }).keys()], ['odd.bf16', 'f16', 'ids']);
    const added = mutateTensorTable(table, { kind: 'add', name: 'new', spec: { dtype: 'F32', shape: [1] } });
    assert.deepEqual([...added.keys()], ['odd.bf16', 'f32', 'f16', 'ids', 'new']);
    assert.deepEqual(mutateTensorTable(table, { kind: 'reshape', name: 'f16', shape: [9] }).get('f16'), {
      dtype: 'F16',
      shape: [9],
    });
    assert.deepEqual(
      [...mutateTensorTable(table, { kind: 'rename', name: 'ids', to: 'idx' }).keys()],
      ['odd.bf16', 'f32', 'f16', 'idx'],
    );
    assert.throws(() => mutateTensorTable(table, { kind: 'drop', name: 'absent' }), RangeError);
    assert.throws(
      () => mutateTensorTable(table, { kind: 'add', name: 'f32', spec: { dtype: 'F32', shape: [1] } }),
      RangeError,
    );
  });
});
