import { DType, TensorSpec } from '@step1x/tensors';
import { TensorByteSource, memorySourceOf } from './tensor-sources';
import { ParameterTable } from '../weights/tensor-table';
import { StrictLoadOptions, loadStateDictStrict } from '../weights/state-dict';

/**
 * Where parameter bytes come from when a graph is written: a `Checkpoint` on disk, or tensors made in memory.
 * Data is pulled one tensor at a time in bounded chunks, so no provider needs a whole checkpoint in memory.
 */
export interface WeightProvider {
  /** Every tensor name with its stored dtype and shape (what strict loading compares). */
  readonly tensors: ReadonlyMap<string, TensorSpec>;
  /** Range reads of one tensor's stored bytes. */
  source(name: string): TensorByteSource;
}

/**
 * Strict loading: the provider's tensors must be exactly the expected ones with the expected shapes; throws
 * `StateDictMismatchError` naming every missing, unexpected, misshaped or mistyped tensor.
 */
export function checkStrict(expected: ParameterTable, provider: WeightProvider, options: StrictLoadOptions = {}): void {
  loadStateDictStrict(expected, provider, options);
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
    return memorySourceOf(t.values, t.shape);
  }
}
