import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bf16ToF32, f16ToF32, TensorSpec, writeSafetensors } from '@step1x/tensors';
import { Checkpoint } from '../weights/checkpoint';
import { writeSyntheticCheckpoint } from '../weights/synthetic-checkpoint';
import { ExternalDataError, ExternalDataWriter, memorySource } from './external-data';

/** bf16 patterns with known exact f16 images (hand-derived; see transcode.spec.ts for the derivations). */
const BF16_TO_F16: [number, number][] = [
  [0x3f80, 0x3c00],
  [0xc000, 0xc000],
  [0x477f, 0x7bf8],
  [0x4780, 0x7c00],
  [0x3880, 0x0400],
  [0x387f, 0x03fc],
  [0x3300, 0x0000],
  [0x3340, 0x0001],
  [0x33c0, 0x0002],
  [0x3420, 0x0002],
  [0x0001, 0x0000],
  [0x8001, 0x8000],
  [0xff80, 0xfc00],
  [0x7fc0, 0x7e00],
];

function slice(path: string, offset: number, length: number): Uint8Array {
  return new Uint8Array(readFileSync(path).subarray(offset, offset + length));
}

describe('ExternalDataWriter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'step1x-external-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('converts bf16 checkpoint tensors to f16 and f32 exactly, across chunk boundaries', () => {
    const repeats = 7;
    const bits = Array.from({ length: repeats }, () => BF16_TO_F16.map((c) => c[0])).flat();
    const ckptPath = join(dir, 'bf16.safetensors');
    writeSafetensors(ckptPath, {
      w: { dtype: 'BF16', shape: [repeats, BF16_TO_F16.length], data: new Uint8Array(new Uint16Array(bits).buffer) },
    });
    const ckpt = Checkpoint.open(ckptPath);
    const out = join(dir, 'bf16.data');
    // 3 elements per chunk at 4-byte output: many chunks, and the tensor length is not a multiple of it.
    const writer = new ExternalDataWriter(out, { chunkBytes: 12 });
    try {
      const f16 = writer.appendTensor(ckpt.source('w'), 'F16');
      const f32 = writer.appendTensor(ckpt.source('w'), 'F32');
      writer.close();
      assert.equal(f16.length, bits.length * 2);
      assert.equal(f32.length, bits.length * 4);
      const half = new Uint16Array(slice(out, f16.offset, f16.length).buffer);
      assert.deepEqual([...half], Array.from({ length: repeats }, () => BF16_TO_F16.map((c) => c[1])).flat());
      const single = new Uint32Array(slice(out, f32.offset, f32.length).buffer);
      assert.deepEqual(
        [...single],
        bits.map((b) => (b << 16) >>> 0),
      );
      assert.ok(Object.is(f16ToF32(half[2]), bf16ToF32(bits[2])));
    } finally {
      ckpt.close();
    }
  });

  it('aligns large tensors to 64 KiB and small ones to 16 bytes, returning location, offset and length', () => {
    const out = join(dir, 'model.onnx.data');
    const writer = new ExternalDataWriter(out, { skipZeroChunks: false });
    const tiny = writer.appendFloat32(new Float32Array([1, 2, 3]));
    const odd = writer.appendBytes(new Uint8Array([7, 7, 7]));
    const int64 = writer.appendInt64([5, -1n]);
    const big = writer.appendFloat32(new Float32Array(300_000).fill(0.5), 'F16'); // 600,000 bytes < 1 MiB
    const huge = writer.appendFloat32(new Float32Array(262_144).fill(-2)); // exactly 1 MiB
    const after = writer.appendFloat32(new Float32Array([9]), 'F16');
    const summary = writer.close();
    assert.deepEqual(tiny, { location: 'model.onnx.data', offset: 0, length: 12 });
    assert.deepEqual([odd.offset, odd.length], [16, 3]);
    assert.deepEqual([int64.offset, int64.length], [32, 16]);
    assert.equal(big.offset % 16, 0);
    assert.equal(big.offset, 48);
    assert.equal(huge.offset % 65536, 0);
    assert.ok(huge.offset >= big.offset + big.length);
    assert.equal(after.offset, huge.offset + huge.length);
    assert.equal(summary.bytes, after.offset + 2);
    assert.equal(statSync(out).size, summary.bytes);
    assert.equal(summary.tensors, 6);
    assert.deepEqual([...new BigInt64Array(slice(out, int64.offset, 16).buffer)], [5n, -1n]);
    assert.deepEqual([...new Float32Array(slice(out, huge.offset + huge.length - 8, 8).buffer)], [-2, -2]);
    assert.deepEqual([...slice(out, after.offset, 2)], [0x80, 0x48]); // 9 in f16 = 0x4880
  });

  it('leaves all-zero chunks of a sparse checkpoint as holes that read back as zeros', () => {
    const table = new Map<string, TensorSpec>([
      ['zeros', { dtype: 'BF16', shape: [64, 1024] }],
      ['tail', { dtype: 'F32', shape: [3] }],
    ]);
    const ckptPath = join(dir, 'sparse.safetensors');
    writeSyntheticCheckpoint(ckptPath, table, { fill: 'sparse' });
    const ckpt = Checkpoint.open(ckptPath);
    const out = join(dir, 'sparse.data');
    const writer = new ExternalDataWriter(out, { chunkBytes: 4096 });
    try {
      const zeros = writer.appendTensor(ckpt.source('zeros'), 'F16');
      const tail = writer.appendTensor(ckpt.source('tail'), 'F16');
      const negativeZero = writer.appendFloat32(new Float32Array([-0]), 'F16');
      const summary = writer.close();
      assert.equal(summary.skippedZeroBytes, zeros.length + tail.length);
      assert.equal(statSync(out).size, negativeZero.offset + 2);
      assert.ok(slice(out, 0, summary.bytes - 2).every((b) => b === 0));
      assert.deepEqual([...slice(out, negativeZero.offset, 2)], [0x00, 0x80]);
    } finally {
      ckpt.close();
    }
  });

  it('refuses conversions it cannot do and use after close', () => {
    const writer = new ExternalDataWriter(join(dir, 'closed.data'));
    assert.throws(
      () => writer.appendTensor(memorySource(new Uint8Array(8), 'I64', [1]), 'F16'),
      /cannot store I64 as F16/,
    );
    writer.close();
    assert.throws(() => writer.appendFloat32(new Float32Array(1)), ExternalDataError);
  });
});
