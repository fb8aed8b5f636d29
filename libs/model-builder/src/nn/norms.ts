import { GraphBuilder, Value } from '../graph/graph-builder';
import { BuildOptions, Module } from '../graph/module';

/** torch.nn.LayerNorm over the last axis; without affine parameters when `affine` is false. Float32. */
export class LayerNorm extends Module {
  private readonly scale: Value;
  private readonly bias: Value | null;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    dim: number,
    readonly eps: number,
    affine: boolean,
  ) {
    super(g, path, options);
    if (affine) {
      this.scale = this.vector('weight', [dim]);
      this.bias = this.vector('bias', [dim]);
    } else {
      this.scale = g.constFloat(new Float32Array(dim).fill(1));
      this.bias = null;
    }
  }

  forward(x: Value): Value {
    return this.scoped(() => this.g.layerNormalization(this.g.cast(x, 'float32'), this.scale, this.bias, this.eps));
  }
}

/** RMSNorm over the last axis in float32: x·rsqrt(mean(x²)+eps)·scale, with the scale under `paramName`. */
export class RmsNorm extends Module {
  private readonly scale: Value;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    dim: number,
    readonly eps: number,
    paramName = 'scale',
  ) {
    super(g, path, options);
    this.scale = this.vector(paramName, [dim]);
  }

  forward(x: Value): Value {
    return this.scoped(() => rmsNormalize(this.g, x, this.eps, this.scale));
  }
}

export function rmsNormalize(g: GraphBuilder, x: Value, eps: number, scale: Value | null): Value {
  const xf = g.cast(x, 'float32');
  const meanSquare = g.reduceMean(g.mul(xf, xf), [-1]);
  const normed = g.div(xf, g.sqrt(g.add(meanSquare, g.constFloat([eps], []))));
  return scale ? g.mul(normed, scale) : normed;
}

/**
 * GroupNorm for NCHW input in float32: statistics over (C/G, H, W) per group, then a per-channel affine.
 * Written out with reductions because ONNX's GroupNormalization changed its scale semantics between opsets.
 */
export class GroupNorm extends Module {
  private readonly scale: Value;
  private readonly bias: Value;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    readonly groups: number,
    readonly channels: number,
    readonly eps: number,
  ) {
    super(g, path, options);
    this.scale = this.vector('weight', [channels]);
    this.bias = this.vector('bias', [channels]);
  }

  forward(x: Value): Value {
    const g = this.g;
    return this.scoped(() => {
      const xf = g.cast(x, 'float32');
      const shape = g.shape(xf);
      const grouped = g.reshape(xf, [0, this.groups, -1]);
      const mean = g.reduceMean(grouped, [2]);
      const centered = g.sub(grouped, mean);
      const variance = g.reduceMean(g.mul(centered, centered), [2]);
      const normed = g.div(centered, g.sqrt(g.add(variance, g.constFloat([this.eps], []))));
      const back = g.reshapeDynamic(normed, shape);
      const scale = g.reshape(this.scale, [1, this.channels, 1, 1]);
      const bias = g.reshape(this.bias, [1, this.channels, 1, 1]);
      return g.add(g.mul(back, scale), bias);
    });
  }
}
