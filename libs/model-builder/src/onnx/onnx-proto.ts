import { ProtoWriter } from './protobuf-writer';

/** ONNX TensorProto.DataType values for the element types we emit. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';

export const ELEM_TYPE_CODE: Record<ElemType, number> = {
  float32: OnnxDataType.FLOAT,
  float16: OnnxDataType.FLOAT16,
  int64: OnnxDataType.INT64,
  int32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
  uint8: OnnxDataType.UINT8,
};

export const ELEM_TYPE_BYTES: Record<ElemType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
};

export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType: ElemType;
  shape: readonly Dim[];
}

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: TensorProtoData };

export interface NodeData {
  name: string;
  opType: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, AttributeValue>>;
}

/** An initializer: inline bytes, or a reference into an external data file. */
export interface TensorProtoData {
  name: string;
  elemType: ElemType;
  dims: readonly number[];
  raw?: Uint8Array;
  external?: { location: string; offset: number; length: number };
}

export interface ModelData {
  graphName: string;
  nodes: readonly NodeData[];
  initializers: readonly TensorProtoData[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  opsets: readonly { domain: string; version: number }[];
  producerVersion: string;
  metadata: Readonly<Record<string, string>>;
}

const IR_VERSION = 9;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function writeTensor(w: ProtoWriter, t: TensorProtoData): void {
  w.packedInts(1, t.dims);
  w.int(2, ELEM_TYPE_CODE[t.elemType]);
  w.string(8, t.name);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [key, value] of entries) w.message(13, (e) => e.string(1, key).string(2, value));
    w.int(14, 1);
  } else {
    w.bytes(9, t.raw ?? new Uint8Array(0));
  }
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ELEM_TYPE_CODE[v.elemType]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'int':
      w.int(20, ATTR.INT).int(3, a.value);
      break;
    case 'float':
      w.int(20, ATTR.FLOAT).float(2, a.value);
      break;
    case 'string':
      w.int(20, ATTR.STRING).string(4, a.value);
      break;
    case 'ints':
      w.int(20, ATTR.INTS).packedInts(8, a.value);
      break;
    case 'floats':
      w.int(20, ATTR.FLOATS).packedFloats(7, a.value);
      break;
    case 'tensor':
      w.int(20, ATTR.TENSOR).message(5, (t) => writeTensor(t, a.value));
      break;
  }
}

/** Serialises a model to ONNX ModelProto bytes. */
export function encodeModel(m: ModelData): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION);
  w.string(2, 'step1x-model-builder');
  w.string(3, m.producerVersion);
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.name);
        node.string(4, n.opType);
        for (const [k, a] of Object.entries(n.attributes)) node.message(5, (attr) => writeAttribute(attr, k, a));
        if (n.domain) node.string(7, n.domain);
      });
    }
    g.string(2, m.graphName);
    for (const t of m.initializers) g.message(5, (tw) => writeTensor(tw, t));
    for (const v of m.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of m.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  for (const o of m.opsets) w.message(8, (op) => op.string(1, o.domain).int(2, o.version));
  for (const [key, value] of Object.entries(m.metadata)) w.message(14, (e) => e.string(1, key).string(2, value));
  return w.finish();
}
