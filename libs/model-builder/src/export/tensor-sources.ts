import type { TensorByteSource } from '../weights/checkpoint';
import { memorySource } from './external-data';

export type { TensorByteSource };

/** A float32 array as a byte source. */
export function memorySourceOf(values: Float32Array, shape: readonly number[]): TensorByteSource {
  return memorySource(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 'F32', shape);
}
