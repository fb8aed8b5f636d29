import { GraphBuilder, Value } from '../graph/graph-builder';
import { BuildOptions, Module } from '../graph/module';

/** torch.nn.Linear: `weight [out, in]`, optional `bias [out]`. Input and output are float32. */
export class Linear extends Module {
  private readonly w: Value;
  private readonly b: Value | null;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    inFeatures: number,
    outFeatures: number,
    bias = true,
  ) {
    super(g, path, options);
    this.w = this.weight('weight', [outFeatures, inFeatures]);
    this.b = bias ? this.weight('bias', [outFeatures]) : null;
  }

  forward(x: Value): Value {
    return this.scoped(() => {
      const xc = this.g.cast(x, this.computeType);
      let y = this.g.matmulTransB(xc, this.w);
      if (this.b) y = this.g.add(y, this.b);
      return this.g.cast(y, 'float32');
    });
  }
}

/** Linear → SiLU → Linear, as FLUX's MLPEmbedder (`in_layer`, `out_layer`) and the connector's embedders. */
export class MlpEmbedder extends Module {
  private readonly first: Linear;
  private readonly second: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    dims: { in: number; hidden: number; out?: number },
    names: [string, string] = ['in_layer', 'out_layer'],
  ) {
    super(g, path, options);
    this.first = new Linear(g, this.child(names[0]), options, dims.in, dims.hidden);
    this.second = new Linear(g, this.child(names[1]), options, dims.hidden, dims.out ?? dims.hidden);
  }

  forward(x: Value): Value {
    return this.second.forward(this.g.silu(this.first.forward(x)));
  }
}
