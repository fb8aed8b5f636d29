import {
  AttributeValue,
  Dim,
  ELEM_TYPE_CODE,
  ElemType,
  NodeData,
  TensorProtoData,
  ValueInfo,
} from '../onnx/onnx-proto';

/** A symbolic tensor in the graph being built. Shapes stay symbolic; ONNX Runtime checks them at load. */
export class Value {
  constructor(
    readonly name: string,
    readonly elemType: ElemType,
  ) {}
}

/** A learned tensor, named by its checkpoint key; its bytes are supplied only when the model is written. */
export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Element type the graph stores it as (the checkpoint may hold another: bf16 → fp16/fp32 on export). */
  readonly elemType: ElemType;
}

type AttrInput =
  number | string | readonly number[] | { floats: readonly number[] } | { float: number } | AttributeValue;

function toAttribute(v: AttrInput): AttributeValue {
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v as readonly number[] };
  if ('floats' in v) return { kind: 'floats', value: v.floats };
  if ('float' in v) return { kind: 'float', value: v.float };
  return v as AttributeValue;
}

const MS_DOMAIN = 'com.microsoft';

/**
 * Builds one ONNX graph with typed op helpers. Node names are slash-joined scopes (module paths), parameters keep
 * their dot-joined checkpoint keys, intermediate values get a `v_` prefix.
 */
export class GraphBuilder {
  readonly nodes: NodeData[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly parameters = new Map<string, ParameterSpec>();
  readonly constants: TensorProtoData[] = [];
  private scopes: string[] = [];
  private counter = 0;
  private usesMsDomain = false;

  constructor(readonly name: string) {}

  // ----- structure -------------------------------------------------------------------------------------------

  input(name: string, elemType: ElemType, shape: readonly Dim[]): Value {
    this.inputs.push({ name, elemType, shape });
    return new Value(name, elemType);
  }

  output(value: Value, name: string, shape: readonly Dim[]): void {
    const v = value.name === name ? value : this.op('Identity', [value], {}, { outputName: name });
    this.outputs.push({ name, elemType: v.elemType, shape });
  }

  parameter(name: string, shape: readonly number[], elemType: ElemType = 'float32'): Value {
    const existing = this.parameters.get(name);
    if (existing) {
      if (existing.shape.join() !== shape.join() || existing.elemType !== elemType) {
        throw new Error(`parameter ${name} declared twice with different shapes or types`);
      }
    } else {
      this.parameters.set(name, { name, shape, elemType });
    }
    return new Value(name, elemType);
  }

  /** Runs `fn` with a name scope (a module path), so nodes read `double_blocks.3/img_attn/MatMul_12`. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  get opsets(): { domain: string; version: number }[] {
    const list = [{ domain: '', version: 20 }];
    if (this.usesMsDomain) list.push({ domain: MS_DOMAIN, version: 1 });
    return list;
  }

  // ----- constants -------------------------------------------------------------------------------------------

  constFloat(values: readonly number[] | Float32Array, dims: readonly number[] = [values.length]): Value {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.addConstant('float32', dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.addConstant('int64', dims, new Uint8Array(data.buffer));
  }

  private addConstant(elemType: ElemType, dims: readonly number[], raw: Uint8Array): Value {
    const name = `const_${this.constants.length}`;
    this.constants.push({ name, elemType, dims, raw: Uint8Array.from(raw) });
    return new Value(name, elemType);
  }

  // ----- generic node ----------------------------------------------------------------------------------------

  op(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Record<string, AttrInput> = {},
    opts: { domain?: string; outputElemType?: ElemType; outputName?: string } = {},
  ): Value {
    return this.opMulti(opType, inputs, 1, attrs, opts)[0];
  }

  opMulti(
    opType: string,
    inputs: readonly (Value | null)[],
    outputCount: number,
    attrs: Record<string, AttrInput> = {},
    opts: { domain?: string; outputElemType?: ElemType; outputName?: string } = {},
  ): Value[] {
    const id = this.counter++;
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/` : '';
    const nodeName = `${prefix}${opType}_${id}`;
    const elemType = opts.outputElemType ?? inputs.find((v): v is Value => v !== null)?.elemType ?? 'float32';
    const outputs = Array.from({ length: outputCount }, (_, i) =>
      opts.outputName && outputCount === 1 ? opts.outputName : `v_${id}_${i}`,
    );
    const attributes: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(v);
    if (opts.domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      name: nodeName,
      opType,
      domain: opts.domain ?? '',
      inputs: inputs.map((v) => (v ? v.name : '')),
      outputs,
      attributes,
    });
    return outputs.map((o) => new Value(o, elemType));
  }

  // ----- elementwise -----------------------------------------------------------------------------------------

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  pow(a: Value, b: Value): Value {
    return this.op('Pow', [a, b]);
  }
  sqrt(a: Value): Value {
    return this.op('Sqrt', [a]);
  }
  exp(a: Value): Value {
    return this.op('Exp', [a]);
  }
  cos(a: Value): Value {
    return this.op('Cos', [a]);
  }
  sin(a: Value): Value {
    return this.op('Sin', [a]);
  }
  sigmoid(a: Value): Value {
    return this.op('Sigmoid', [a]);
  }
  /** x·sigmoid(x), PyTorch's SiLU / swish. */
  silu(a: Value): Value {
    return this.mul(a, this.sigmoid(a));
  }
  /** GELU, exact (erf) or PyTorch's tanh approximation. */
  gelu(a: Value, approximate: 'none' | 'tanh'): Value {
    return this.op('Gelu', [a], { approximate });
  }
  cast(a: Value, to: ElemType): Value {
    if (a.elemType === to) return a;
    return this.op('Cast', [a], { to: ELEM_TYPE_CODE[to] }, { outputElemType: to });
  }
  where(cond: Value, a: Value, b: Value): Value {
    return this.op('Where', [cond, a, b], {}, { outputElemType: a.elemType });
  }
  equal(a: Value, b: Value): Value {
    return this.op('Equal', [a, b], {}, { outputElemType: 'bool' });
  }
  and(a: Value, b: Value): Value {
    return this.op('And', [a, b], {}, { outputElemType: 'bool' });
  }

  // ----- shape -----------------------------------------------------------------------------------------------

  /** Reshape; 0 copies the input's dim, −1 is inferred (ONNX semantics). */
  reshape(a: Value, shape: readonly number[]): Value {
    return this.op('Reshape', [a, this.constInt64(shape)]);
  }
  reshapeDynamic(a: Value, shape: Value): Value {
    return this.op('Reshape', [a, shape]);
  }
  transpose(a: Value, perm: readonly number[]): Value {
    return this.op('Transpose', [a], { perm });
  }
  unsqueeze(a: Value, axes: readonly number[]): Value {
    return this.op('Unsqueeze', [a, this.constInt64(axes)]);
  }
  squeeze(a: Value, axes: readonly number[]): Value {
    return this.op('Squeeze', [a, this.constInt64(axes)]);
  }
  concat(values: readonly Value[], axis: number): Value {
    return this.op('Concat', values, { axis });
  }
  /** Slice along one axis; `end` may be a large number for "to the end". */
  slice(a: Value, axis: number, start: number, end: number): Value {
    return this.op('Slice', [a, this.constInt64([start]), this.constInt64([end]), this.constInt64([axis])]);
  }
  sliceDynamic(a: Value, axis: number, start: Value, end: Value): Value {
    return this.op('Slice', [a, start, end, this.constInt64([axis])]);
  }
  split(a: Value, axis: number, sizes: readonly number[]): Value[] {
    return this.opMulti('Split', [a, this.constInt64(sizes)], sizes.length, { axis });
  }
  shape(a: Value, start?: number, end?: number): Value {
    const attrs: Record<string, number> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.op('Shape', [a], attrs, { outputElemType: 'int64' });
  }
  gather(data: Value, indices: Value, axis: number): Value {
    return this.op('Gather', [data, indices], { axis }, { outputElemType: data.elemType });
  }
  expand(a: Value, shape: Value): Value {
    return this.op('Expand', [a, shape]);
  }

  // ----- reductions and linear algebra -----------------------------------------------------------------------

  reduceMean(a: Value, axes: readonly number[], keepdims = true): Value {
    return this.op('ReduceMean', [a, this.constInt64(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceSum(a: Value, axes: readonly number[], keepdims = true): Value {
    return this.op('ReduceSum', [a, this.constInt64(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  /** a @ bᵀ without materialising the transpose: PyTorch Linear weights stay in their [out, in] layout. */
  matmulTransB(a: Value, b: Value, alpha = 1): Value {
    return this.op('FusedMatMul', [a, b], { transA: 0, transB: 1, alpha: { float: alpha } }, { domain: MS_DOMAIN });
  }
  softmax(a: Value, axis: number): Value {
    return this.op('Softmax', [a], { axis });
  }
  layerNormalization(x: Value, scale: Value, bias: Value | null, epsilon: number, axis = -1): Value {
    return this.op('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis, epsilon: { float: epsilon } });
  }
  conv(
    x: Value,
    w: Value,
    b: Value | null,
    opts: { kernel: number; stride?: number; pads?: readonly number[] },
  ): Value {
    const k = opts.kernel;
    const p = opts.pads ?? [Math.floor(k / 2), Math.floor(k / 2), Math.floor(k / 2), Math.floor(k / 2)];
    const s = opts.stride ?? 1;
    return this.op('Conv', b ? [x, w, b] : [x, w], { kernel_shape: [k, k], strides: [s, s], pads: p });
  }
  pad(x: Value, pads: readonly number[]): Value {
    return this.op('Pad', [x, this.constInt64(pads)], { mode: 'constant' });
  }
  /** Nearest-neighbour upsampling by an integer factor on the last two axes (PyTorch `interpolate(nearest)`). */
  upsampleNearest(x: Value, factor: number): Value {
    return this.op('Resize', [x, null, this.constFloat([1, 1, factor, factor])], {
      mode: 'nearest',
      nearest_mode: 'floor',
      coordinate_transformation_mode: 'asymmetric',
    });
  }
  /** com.microsoft MultiHeadAttention: q [B,S,H·D], k/v [B,L,H·D] → [B,S,H·D]; fused, memory-efficient kernels. */
  multiHeadAttention(q: Value, k: Value, v: Value, numHeads: number, scale: number, attentionBias?: Value): Value {
    const inputs = attentionBias ? [q, k, v, null, null, attentionBias] : [q, k, v];
    return this.op(
      'MultiHeadAttention',
      inputs,
      { num_heads: numHeads, scale: { float: scale } },
      { domain: MS_DOMAIN },
    );
  }
}
