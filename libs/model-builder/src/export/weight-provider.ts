import { DType, TensorSpec } from '@step1x/tensors';
import type { TensorByteSource } from '../weights/checkpoint';
import { memorySource } from './external-data';

/**
 * Where parameter bytes come from when a graph is written: a `Checkpoint` on disk, or tensors made in memory.
 * Data is pulled one tensor at a time in bounded chunks, so no provider needs a whole checkpoint in memory. Its
 * `tensors` catalog is what `loadStateDictStrict` checks.
 */
export interface WeightProvider {
  /** Every tensor name with its stored dtype and shape (what strict loading compares). */
  readonly tensors: ReadonlyMap<string, TensorSpec>;
  /** Range reads of one tensor's stored bytes. */
  source(name: string): TensorByteSource;
}

/** Float32 tensors held in memory (random tiny models, tests). */
export class InMemoryWeights implements WeightProvider {
  readonly tensors: ReadonlyMap<string, TensorSpec>;

  constructor(private readonly data: ReadonlyMap<string, { shape: readonly number[]; values: Float32Array }>) {
    this.tensors = new Map([...data].map(([name, t]) => [name, { dtype: 'F32' as DType, shape: t.shape }]));
  }

  source(name: string): TensorByteSource {
    const t = this.data.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return memorySource(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), 'F32', t.shape);
  }
}
