import { closeSync, openSync, writeSync, ftruncateSync } from 'node:fs';
import { basename } from 'node:path';
import { GraphBuilder } from '../graph/graph-builder';
import { ELEM_TYPE_BYTES, TensorProtoData, encodeModel } from '../onnx/onnx-proto';
import { WeightProvider } from './weight-provider';

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

/** Large tensors start on 64 KiB boundaries so ONNX Runtime can memory-map them. */
const ALIGN_LARGE = 64 * 1024;
const LARGE_TENSOR = 1024 * 1024;

/** Serialises a graph with its parameters pulled from `weights`; returns the files written. */
export function writeOnnxModel(graph: GraphBuilder, opts: WriteModelOptions): string[] {
  const external = opts.externalData ?? true;
  const dataPath = `${opts.path}.data`;
  const initializers: TensorProtoData[] = [...graph.constants];
  const fd = external ? openSync(dataPath, 'w') : -1;
  let offset = 0;
  try {
    for (const p of graph.parameters.values()) {
      const length = p.shape.reduce((a, b) => a * b, 1) * ELEM_TYPE_BYTES[p.elemType];
      if (external) {
        const align = length >= LARGE_TENSOR ? ALIGN_LARGE : 16;
        offset = Math.ceil(offset / align) * align;
        let pos = offset;
        opts.weights.stream(p.name, p.elemType, (chunk) => {
          writeSync(fd, chunk, 0, chunk.length, pos);
          pos += chunk.length;
        });
        if (pos - offset !== length) throw new Error(`${p.name}: provider wrote ${pos - offset} bytes, expected ${length}`);
        initializers.push({ name: p.name, elemType: p.elemType, dims: p.shape, external: { location: basename(dataPath), offset, length } });
        offset = pos;
      } else {
        const raw = new Uint8Array(length);
        let pos = 0;
        opts.weights.stream(p.name, p.elemType, (chunk) => {
          raw.set(chunk, pos);
          pos += chunk.length;
        });
        if (pos !== length) throw new Error(`${p.name}: provider wrote ${pos} bytes, expected ${length}`);
        initializers.push({ name: p.name, elemType: p.elemType, dims: p.shape, raw });
      }
    }
    if (external) ftruncateSync(fd, offset);
  } finally {
    if (fd >= 0) closeSync(fd);
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
  const mfd = openSync(opts.path, 'w');
  try {
    writeSync(mfd, bytes);
  } finally {
    closeSync(mfd);
  }
  return external ? [opts.path, dataPath] : [opts.path];
}
