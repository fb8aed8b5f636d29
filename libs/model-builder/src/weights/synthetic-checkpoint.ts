import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  DType,
  encodeSafetensorsHeader,
  Philox,
  Seed,
  streamIdOf,
  TensorSpec,
  writeSafetensors,
} from '@step1x/tensors';
import { byteLengthOf, TensorTable } from './tensor-table';

/**
 * Synthetic checkpoints with exactly a given tensor table, for tests and benches (the real ones cannot be
 * downloaded here).
 * - `sparse`: header + ftruncate. The data reads as zeros and takes no disk blocks, so a 25 GB file is written in
 *   milliseconds: for header-level checks (strict loading) and zero-data conversion paths.
 * - `random`: data streamed in chunks, never a whole tensor in memory: for memory benches on multi-GB files. Each
 *   tensor's bytes come from the Philox stream (seed, streamIdOf(name)); word i of the stream gives bytes
 *   [4i, 4i + 4). Float words are reshaped into finite values of magnitude in [2^-7, 2) (random sign and mantissa,
 *   exponent from 3 random bits), which every float dtype here, f16 included, holds as normal numbers.
 */
export type SyntheticFill = 'sparse' | 'random';

export interface SyntheticCheckpointOptions {
  /** @defaultValue 'sparse' */
  readonly fill?: SyntheticFill;
  /** Seed of the `random` fill. @defaultValue 0 */
  readonly seed?: Seed;
  /** Bytes generated per step of the `random` fill (a multiple of 16). @defaultValue 16 MiB */
  readonly chunkBytes?: number;
  /** `__metadata__` of the file. @defaultValue { format: 'pt' } */
  readonly metadata?: Record<string, string>;
}

export interface SyntheticCheckpointInfo {
  readonly path: string;
  /** File size: header + data. */
  readonly bytes: number;
  readonly dataBytes: number;
}

const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/** Rewrites random 32-bit words in place into finite, normal values of the dtype (see the file comment). */
function shapeWordsForDtype(words: Uint32Array, dtype: DType): void {
  if (dtype === 'F32') {
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      words[i] = ((w & 0x807fffff) | ((120 + ((w >>> 23) & 7)) << 23)) >>> 0;
    }
  } else if (dtype === 'BF16' || dtype === 'F16') {
    const halves = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
    const [keep, exponentBase, shift] = dtype === 'BF16' ? [0x807f, 120, 7] : [0x83ff, 8, 10];
    for (let i = 0; i < halves.length; i++) {
      const h = halves[i];
      halves[i] = (h & keep) | ((exponentBase + ((h >>> shift) & 7)) << shift);
    }
  } else if (dtype === 'F64') {
    const high = new Uint32Array(words.buffer, words.byteOffset, words.length);
    for (let i = 1; i < high.length; i += 2)
      high[i] = ((high[i] & 0x800fffff) | ((1016 + ((high[i] >>> 20) & 7)) << 20)) >>> 0;
  }
}

/**
 * Bytes [start, start + target.byteLength) of the `random` fill of tensor `name` (start a multiple of 16), so a
 * test can check any chunk of a synthetic file without keeping the data.
 */
export function syntheticTensorBytes(
  name: string,
  dtype: DType,
  seed: Seed,
  start: number,
  target: Uint8Array,
): Uint8Array {
  if (start % 16 !== 0) throw new RangeError(`start must be a multiple of 16, got ${start}`);
  const philox = new Philox(seed, streamIdOf(name));
  // Whole 16-byte blocks are generated in place (no second chunk-sized buffer); a ragged tail goes through a block.
  const wholeBytes = target.byteOffset % 4 === 0 ? target.byteLength - (target.byteLength % 16) : 0;
  if (wholeBytes > 0) {
    const words = new Uint32Array(target.buffer, target.byteOffset, wholeBytes / 4);
    philox.fillUint32(words, start / 16);
    shapeWordsForDtype(words, dtype);
  }
  for (let at = wholeBytes; at < target.byteLength; at += 16) {
    const block = new Uint32Array(4);
    block.set(philox.blockWords((start + at) / 16));
    shapeWordsForDtype(block, dtype);
    const bytes = new Uint8Array(block.buffer, 0, Math.min(16, target.byteLength - at));
    target.set(bytes, at);
  }
  return target;
}

/** Writes a safetensors file holding exactly `table` (names, dtypes, shapes, in the table's order). */
export function writeSyntheticCheckpoint(
  path: string,
  table: TensorTable,
  options: SyntheticCheckpointOptions = {},
): SyntheticCheckpointInfo {
  const metadata = options.metadata ?? { format: 'pt' };
  if ((options.fill ?? 'sparse') === 'sparse') {
    const header = encodeSafetensorsHeader(table, metadata);
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header.bytes);
      ftruncateSync(fd, header.bytes.byteLength + header.dataBytes);
    } finally {
      closeSync(fd);
    }
    return { path, bytes: header.bytes.byteLength + header.dataBytes, dataBytes: header.dataBytes };
  }
  const seed = options.seed ?? 0;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes % 16 !== 0 || chunkBytes <= 0)
    throw new RangeError(`chunkBytes must be a positive multiple of 16, got ${chunkBytes}`);
  let buffer = new Uint8Array(0);
  const tensors = new Map(
    [...table].map(([name, spec]) => {
      const produce = (write: (chunk: Uint8Array) => void) => {
        const total = byteLengthOf(spec);
        for (let start = 0; start < total; start += chunkBytes) {
          const length = Math.min(chunkBytes, total - start);
          if (buffer.byteLength < length) buffer = new Uint8Array(length);
          write(syntheticTensorBytes(name, spec.dtype, seed, start, buffer.subarray(0, length)));
        }
      };
      return [name, { dtype: spec.dtype, shape: spec.shape, data: produce }] as const;
    }),
  );
  writeSafetensors(path, tensors, metadata);
  const header = encodeSafetensorsHeader(table, metadata);
  return { path, bytes: header.bytes.byteLength + header.dataBytes, dataBytes: header.dataBytes };
}

export interface ShardedSyntheticOptions extends SyntheticCheckpointOptions {
  /** Number of shard files; tensors are split in table order into runs of about equal counts. @defaultValue 2 */
  readonly shards?: number;
}

/**
 * Writes `model-0000i-of-0000n.safetensors` shards and a `model.safetensors.index.json` (the Hugging Face layout)
 * into `dir`; returns the index path.
 */
export function writeShardedSyntheticCheckpoint(
  dir: string,
  table: TensorTable,
  options: ShardedSyntheticOptions = {},
): string {
  const shardCount = Math.max(1, Math.min(options.shards ?? 2, table.size));
  mkdirSync(dir, { recursive: true });
  const total = [...table.values()].reduce((sum, spec) => sum + byteLengthOf(spec), 0);
  const names = [...table.keys()];
  const shards = Array.from({ length: shardCount }, (_, i) => {
    const part = names.slice(
      Math.floor((i * names.length) / shardCount),
      Math.floor(((i + 1) * names.length) / shardCount),
    );
    return new Map(part.map((name) => [name, table.get(name)!]));
  });
  const pad = (n: number) => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-${pad(i + 1)}-of-${pad(shardCount)}.safetensors`;
    writeSyntheticCheckpoint(join(dir, file), shard, options);
    for (const name of shard.keys()) weightMap[name] = file;
  });
  const indexPath = join(dir, 'model.safetensors.index.json');
  writeFileSync(indexPath, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return indexPath;
}

/** One change to a tensor table, for negative tests of strict loading. */
export type TableMutation =
  | { readonly kind: 'drop'; readonly name: string }
  | { readonly kind: 'add'; readonly name: string; readonly spec: TensorSpec }
  | { readonly kind: 'reshape'; readonly name: string; readonly shape: readonly number[] }
  | { readonly kind: 'rename'; readonly name: string; readonly to: string };

/** A copy of `table` with one tensor dropped, added, reshaped or renamed (order kept; additions at the end). */
export function mutateTensorTable(table: TensorTable, mutation: TableMutation): Map<string, TensorSpec> {
  if (mutation.kind !== 'add' && !table.has(mutation.name))
    throw new RangeError(`no tensor ${mutation.name} to ${mutation.kind}`);
  if (mutation.kind === 'add' && table.has(mutation.name)) throw new RangeError(`${mutation.name} already exists`);
  const out = new Map<string, TensorSpec>();
  for (const [name, spec] of table) {
    if (name !== mutation.name) out.set(name, spec);
    else if (mutation.kind === 'reshape') out.set(name, { dtype: spec.dtype, shape: mutation.shape });
    else if (mutation.kind === 'rename') out.set(mutation.to, spec);
  }
  if (mutation.kind === 'add') out.set(mutation.name, mutation.spec);
  return out;
}
