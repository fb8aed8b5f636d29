import { DTYPE_BYTES, SafetensorsFile, float32ToF16Bytes, toFloat32 } from '@step1x/tensors';
import { ElemType } from '../onnx/onnx-proto';
import { WeightProvider } from './weight-provider';

/** Elements converted per chunk: bounds memory to a few MB whatever the tensor size. */
const CHUNK_ELEMENTS = 4 * 1024 * 1024;

/** Weights read from one or more safetensors files, transcoded chunk by chunk to the graph's element type. */
export class SafetensorsWeights implements WeightProvider {
  private readonly owner = new Map<string, SafetensorsFile>();

  constructor(files: readonly SafetensorsFile[]) {
    for (const f of files) {
      for (const name of f.tensors.keys()) {
        if (this.owner.has(name)) throw new Error(`tensor ${name} appears in both ${this.owner.get(name)!.path} and ${f.path}`);
        this.owner.set(name, f);
      }
    }
  }

  static open(paths: readonly string[]): SafetensorsWeights {
    return new SafetensorsWeights(paths.map((p) => SafetensorsFile.open(p)));
  }

  names(): Iterable<string> {
    return this.owner.keys();
  }

  shapeOf(name: string): readonly number[] | undefined {
    return this.owner.get(name)?.info(name).shape;
  }

  stream(name: string, elemType: ElemType, sink: (chunk: Uint8Array) => void): void {
    const file = this.owner.get(name);
    if (!file) throw new Error(`no tensor ${name}`);
    const info = file.info(name);
    const width = DTYPE_BYTES[info.dtype];
    const chunkBytes = CHUNK_ELEMENTS * width;
    for (let start = 0; start < info.byteLength; start += chunkBytes) {
      const raw = file.readBytes(name, start, Math.min(info.byteLength, start + chunkBytes));
      if (elemType === 'float32' && info.dtype === 'F32') sink(raw);
      else if (elemType === 'float32') {
        const f = toFloat32(raw, info.dtype);
        sink(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
      } else if (elemType === 'float16') sink(info.dtype === 'F16' ? raw : float32ToF16Bytes(toFloat32(raw, info.dtype)));
      else throw new Error(`${name}: cannot convert ${info.dtype} to ${elemType}`);
    }
  }

  close(): void {
    for (const f of new Set(this.owner.values())) f.close();
  }
}

/** Float32 tensors held in memory (random tiny models, tests). */
export class InMemoryWeights implements WeightProvider {
  constructor(private readonly tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>) {}

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  shapeOf(name: string): readonly number[] | undefined {
    return this.tensors.get(name)?.shape;
  }

  stream(name: string, elemType: ElemType, sink: (chunk: Uint8Array) => void): void {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    if (elemType === 'float32') sink(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    else if (elemType === 'float16') sink(float32ToF16Bytes(t.data));
    else throw new Error(`${name}: cannot provide ${elemType}`);
  }
}
