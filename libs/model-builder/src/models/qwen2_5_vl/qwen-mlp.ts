import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { Linear } from '../../nn/linear';

/** gate/up/down projections (with or without biases) and SiLU gating: `down(silu(gate(x)) · up(x))` (`Qwen2_5_VLMLP`). */
export class GatedMlp extends Module {
  private readonly gate: Linear;
  private readonly up: Linear;
  private readonly down: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    dims: { hidden: number; intermediate: number },
    bias: boolean,
  ) {
    super(g, path, options);
    this.gate = new Linear(g, this.child('gate_proj'), options, dims.hidden, dims.intermediate, bias);
    this.up = new Linear(g, this.child('up_proj'), options, dims.hidden, dims.intermediate, bias);
    this.down = new Linear(g, this.child('down_proj'), options, dims.intermediate, dims.hidden, bias);
  }

  forward(x: Value): Value {
    return this.down.forward(this.g.mul(this.g.silu(this.gate.forward(x)), this.up.forward(x)));
  }
}
