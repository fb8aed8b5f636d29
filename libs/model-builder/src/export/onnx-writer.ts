import { writeFileSync } from 'node:fs';
import { DTYPE_BYTES, DType, transcode } from '@step1x/tensors';
import { GraphBuilder } from '../graph/graph-builder';
import { ElemType, TensorProtoData, encodeModel } from '../onnx/onnx-proto';
import { ExternalDataWriter } from './external-data';
import type { TensorByteSource } from '../weights/checkpoint';
import { WeightProvider } from './weight-provider';

/**
 * A label for people (ONNX `producer_version`, manifests' `builder_version`). No cache is keyed on it: caches use
 * `builderFingerprint()`, the hash of the builder's compiled code, which cannot be forgotten when a graph changes.
 */
export const BUILDER_VERSION = '0.1.0';

export interface WriteModelOptions {
  /** Path of the `.onnx` file. */
  readonly path: string;
  readonly weights: WeightProvider;
  /**
   * Put parameters in `<name>.onnx.data` beside the model (required past protobuf's 2 GB; lets ORT map them)
   * instead of inline. @defaultValue true
   */
  readonly externalData?: boolean;
  readonly metadata?: Record<string, string>;
}

const STORED_DTYPE: Partial<Record<ElemType, DType>> = { float32: 'F32', float16: 'F16' };

/** Serialises a graph with its parameters pulled from `weights`; returns the files written. */
export function writeOnnxModel(graph: GraphBuilder, opts: WriteModelOptions): string[] {
  const external = opts.externalData ?? true;
  const dataPath = `${opts.path}.data`;
  const initializers: TensorProtoData[] = [...graph.constants];
  const writer = external ? new ExternalDataWriter(dataPath) : undefined;
  try {
    for (const p of graph.parameters.values()) {
      const to = STORED_DTYPE[p.elemType];
      if (!to) throw new Error(`${p.name}: parameters of type ${p.elemType} are not supported`);
      const source = opts.weights.source(p.name);
      if (writer) {
        initializers.push({
          name: p.name,
          elemType: p.elemType,
          dims: p.shape,
          external: writer.appendTensor(source, to),
        });
      } else {
        initializers.push({ name: p.name, elemType: p.elemType, dims: p.shape, raw: readConverted(source, to) });
      }
    }
  } finally {
    writer?.close();
  }
  const bytes = encodeModel({
    graphName: graph.name,
    nodes: graph.nodes,
    initializers,
    inputs: graph.inputs,
    outputs: graph.outputs,
    opsets: graph.opsets,
    producerVersion: BUILDER_VERSION,
    metadata: opts.metadata ?? {},
  });
  writeFileSync(opts.path, bytes);
  return external ? [opts.path, dataPath] : [opts.path];
}

/** A whole (small) tensor converted in memory, for models stored inline. */
function readConverted(source: TensorByteSource, to: DType): Uint8Array {
  const raw = new Uint8Array(source.byteLength);
  source.readInto(raw, 0);
  if (source.dtype === to) return raw;
  const count = source.byteLength / DTYPE_BYTES[source.dtype];
  const out = new Uint8Array(count * DTYPE_BYTES[to]);
  transcode(raw, source.dtype, out, to, count);
  return out;
}
