import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenRoot, SafetensorsFile, TensorSpec, writeSafetensors } from '@step1x/tensors';
import { Checkpoint, renameQwenHf5ToPublished, renameQwenPublishedToHf5 } from './checkpoint';
import { checkpointTablesRoot } from './tensor-table';
import {
  syntheticTensorBytes,
  writeShardedSyntheticCheckpoint,
  writeSyntheticCheckpoint,
} from './synthetic-checkpoint';
import { CheckpointError } from './weight-errors';

const table = new Map<string, TensorSpec>([
  ['blocks.0.weight', { dtype: 'BF16', shape: [7, 13] }],
  ['blocks.0.bias', { dtype: 'BF16', shape: [7] }],
  ['blocks.1.weight', { dtype: 'F32', shape: [5, 3] }],
  ['blocks.10.norm.scale', { dtype: 'F32', shape: [3] }],
  ['head.weight', { dtype: 'F16', shape: [2, 9] }],
]);

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe('Checkpoint', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-checkpoint-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a sharded index back to the same tensors as the single file', () => {
    const single = join(dir, 'single.safetensors');
    writeSyntheticCheckpoint(single, table, { fill: 'random', seed: 3, chunkBytes: 32 });
    const index = writeShardedSyntheticCheckpoint(join(dir, 'sharded'), table, { fill: 'random', seed: 3, shards: 3 });
    const weightMap = JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>;
    assert.equal(new Set(Object.values(weightMap)).size, 3);
    const a = Checkpoint.open(single);
    const viaIndex = Checkpoint.open(index);
    const viaDir = Checkpoint.open(join(dir, 'sharded'));
    try {
      assert.equal(viaIndex.filePaths.length, 3);
      assert.deepEqual([...viaIndex.tensors.keys()].sort(), [...table.keys()].sort());
      for (const [name, spec] of table) {
        const bytes = a.readBytes(name);
        assert.deepEqual(viaIndex.info(name).shape, spec.shape);
        assert.equal(viaIndex.info(name).dtype, spec.dtype);
        assert.deepEqual(viaIndex.readBytes(name), bytes, name);
        assert.deepEqual(viaDir.readBytes(name), bytes, name);
        const expected = syntheticTensorBytes(name, spec.dtype, 3, 0, new Uint8Array(bytes.byteLength));
        assert.deepEqual(bytes, expected, name);
      }
      assert.deepEqual(viaIndex.readBytes('blocks.0.weight', 16, 40), a.readBytes('blocks.0.weight').subarray(16, 40));
    } finally {
      a.close();
      viaIndex.close();
      viaDir.close();
    }
  });

  it('refuses an index that maps a tensor to a shard without it, naming the tensor', () => {
    const shardDir = join(dir, 'broken-index');
    const index = writeShardedSyntheticCheckpoint(shardDir, table, { shards: 2 });
    const json = JSON.parse(readFileSync(index, 'utf8'));
    json.weight_map['ghost.weight'] = Object.values(json.weight_map)[0];
    writeFileSync(index, JSON.stringify(json));
    assert.throws(
      () => Checkpoint.open(index),
      (err: unknown) =>
        err instanceof CheckpointError &&
        err.code === 'checkpoint_index_mismatch' &&
        err.message.includes('ghost.weight'),
    );
  });

  it('refuses a directory whose files store one name twice', () => {
    const dup = join(dir, 'dup');
    mkdirSync(dup);
    writeSyntheticCheckpoint(join(dup, 'a.safetensors'), table);
    writeSyntheticCheckpoint(join(dup, 'b.safetensors'), new Map([['head.weight', table.get('head.weight')!]]));
    assert.throws(
      () => Checkpoint.open(dup),
      (err: unknown) =>
        err instanceof CheckpointError &&
        err.code === 'checkpoint_duplicate_tensor' &&
        err.message.includes('head.weight'),
    );
  });

  it('reports a missing path with its own code', () => {
    assert.throws(
      () => Checkpoint.open(join(dir, 'nope.safetensors')),
      (err: unknown) => err instanceof CheckpointError && err.code === 'checkpoint_not_found',
    );
  });

  it('renames stored names and drops ignored ones', () => {
    const path = join(dir, 'qwen-like.safetensors');
    writeSafetensors(path, {
      'model.layers.0.mlp.up_proj.weight': { dtype: 'F32', shape: [1, 2], data: f32Bytes([1, 2]) },
      'visual.blocks.0.norm1.weight': { dtype: 'F32', shape: [1], data: f32Bytes([3]) },
      'lm_head.weight': { dtype: 'F32', shape: [1], data: f32Bytes([4]) },
    });
    const ckpt = Checkpoint.open(path, { rename: renameQwenPublishedToHf5, ignore: ['lm_head.*'] });
    try {
      assert.deepEqual([...ckpt.tensors.keys()].sort(), [
        'model.language_model.layers.0.mlp.up_proj.weight',
        'model.visual.blocks.0.norm1.weight',
      ]);
      assert.equal(ckpt.info('model.visual.blocks.0.norm1.weight').storedName, 'visual.blocks.0.norm1.weight');
      assert.deepEqual([...ckpt.readFloat32('model.language_model.layers.0.mlp.up_proj.weight')], [1, 2]);
      assert.deepEqual(ckpt.ignored, ['lm_head.weight']);
    } finally {
      ckpt.close();
    }
    assert.throws(
      () => Checkpoint.open(path, { rename: () => 'same' }),
      (err: unknown) => err instanceof CheckpointError && err.code === 'checkpoint_duplicate_tensor',
    );
  });

  it('renames every Qwen2.5-VL name between the hf5 and published layouts as the table records', () => {
    const json = JSON.parse(readFileSync(join(checkpointTablesRoot(), 'qwen2.5-vl-7b-instruct.tensors.json'), 'utf8'));
    const pairs = Object.entries(json.rename_hf5_to_published as Record<string, string>);
    assert.equal(pairs.length, 729);
    for (const [hf5, published] of pairs) {
      assert.equal(renameQwenHf5ToPublished(hf5), published);
      assert.equal(renameQwenPublishedToHf5(published), hf5);
    }
  });
});

describe('Checkpoint sparse embeddings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-sparse-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function writeSparse(path: string, metadata?: Record<string, string>): void {
    writeSafetensors(
      path,
      {
        'emb.weight.nonzero_rows': {
          dtype: 'I64',
          shape: [2],
          data: new Uint8Array(new BigInt64Array([4n, 1n]).buffer),
        },
        'emb.weight.nonzero_values': { dtype: 'F32', shape: [2, 3], data: f32Bytes([40, 41, 42, 10, 11, 12]) },
        'other.weight': { dtype: 'F32', shape: [1], data: f32Bytes([9]) },
      },
      metadata,
    );
  }

  it('rebuilds W = zeros(shape); W[rows] = values from the shape metadata', () => {
    const path = join(dir, 'with-shape.safetensors');
    writeSparse(path, { 'emb.weight.shape': '[6, 3]' });
    const ckpt = Checkpoint.open(path);
    try {
      assert.deepEqual([...ckpt.tensors.keys()].sort(), ['emb.weight', 'other.weight']);
      const info = ckpt.info('emb.weight');
      assert.deepEqual(info.shape, [6, 3]);
      assert.equal(info.sparse?.storedRows, 2);
      const dense = [0, 0, 0, 10, 11, 12, 0, 0, 0, 0, 0, 0, 40, 41, 42, 0, 0, 0];
      assert.deepEqual([...ckpt.readFloat32('emb.weight')], dense);
      // A range that starts and ends inside rows.
      const part = ckpt.readBytes('emb.weight', 4 * 4, 4 * 14);
      assert.deepEqual([...new Float32Array(part.buffer)], dense.slice(4, 14));
    } finally {
      ckpt.close();
    }
  });

  it('needs the dense shape from metadata or from the caller', () => {
    const path = join(dir, 'no-shape.safetensors');
    writeSparse(path);
    assert.throws(
      () => Checkpoint.open(path),
      (err: unknown) => err instanceof CheckpointError && err.message.includes('sparseDenseShapes'),
    );
    const ckpt = Checkpoint.open(path, { sparseDenseShapes: new Map([['emb.weight', [5, 3]]]) });
    try {
      assert.deepEqual(ckpt.info('emb.weight').shape, [5, 3]);
    } finally {
      ckpt.close();
    }
    assert.throws(() => Checkpoint.open(path, { sparseDenseShapes: new Map([['emb.weight', [4, 3]]]) }), /row index 4/);
  });

  it('opens the Qwen tiny golden weights with their sparse embedding', () => {
    const path = join(goldenRoot(), 'qwen25vl-tiny', 'weights.safetensors');
    const ckpt = Checkpoint.open(path, { rename: renameQwenHf5ToPublished });
    try {
      const emb = ckpt.info('model.embed_tokens.weight');
      assert.deepEqual(emb.shape, [152064, 64]);
      assert.ok(emb.sparse);
      assert.ok(!ckpt.has('model.embed_tokens.weight.nonzero_rows'));
      const raw = SafetensorsFile.open(path);
      try {
        const rowIds = [
          ...new BigInt64Array(raw.readBytes('model.language_model.embed_tokens.weight.nonzero_rows').buffer),
        ].map(Number);
        assert.equal(rowIds.length, emb.sparse.storedRows);
        const values = raw.readFloat32('model.language_model.embed_tokens.weight.nonzero_values');
        const rowBytes = 64 * 4;
        const readRow = (r: number) => [
          ...new Float32Array(ckpt.readBytes('model.embed_tokens.weight', r * rowBytes, (r + 1) * rowBytes).buffer),
        ];
        const last = rowIds.length - 1;
        assert.deepEqual(readRow(rowIds[last]), [...values.subarray(last * 64, last * 64 + 64)]);
        const stored = new Set(rowIds);
        const unstored = [0, 1, 2, 3, 152063].filter((r) => !stored.has(r));
        assert.ok(unstored.length > 0);
        for (const r of unstored)
          assert.ok(
            readRow(r).every((v) => v === 0),
            `row ${r}`,
          );
      } finally {
        raw.close();
      }
    } finally {
      ckpt.close();
    }
  });
});
