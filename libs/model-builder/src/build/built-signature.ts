import { GRAPH_SIGNATURES, GraphName, TensorSpec } from '@step1x/model-format';
import { GraphBuilder } from '../graph/graph-builder';
import { ValueInfo } from '../onnx/onnx-proto';

const describeBuilt = (values: readonly ValueInfo[]) =>
  values.map((v) => `${v.name} ${v.elemType}[rank ${v.shape.length}]`).join(', ');
const describeDeclared = (values: readonly TensorSpec[]) =>
  values.map((v) => `${v.name} ${v.dtype}[rank ${v.rank}]`).join(', ');

function sameSpecs(built: readonly ValueInfo[], specs: readonly TensorSpec[]): boolean {
  return (
    built.length === specs.length &&
    specs.every((s) => built.some((b) => b.name === s.name && b.elemType === s.dtype && b.shape.length === s.rank))
  );
}

/**
 * A graph about to be written must have exactly the interface `@step1x/model-format` declares (names, dtypes,
 * ranks; debug outputs allowed), so the builder can never write a folder the pipeline's load check refuses.
 */
export function assertBuiltSignature(name: GraphName, graph: GraphBuilder): void {
  const signature = GRAPH_SIGNATURES[name];
  const debug = signature.debugOutputs ?? [];
  const required = graph.outputs.filter((o) => !debug.some((d) => d.name === o.name));
  const extras = graph.outputs.filter((o) => debug.some((d) => d.name === o.name));
  const extrasOk = extras.every((o) =>
    debug.some((d) => d.name === o.name && d.dtype === o.elemType && d.rank === o.shape.length),
  );
  if (!sameSpecs(graph.inputs, signature.inputs) || !sameSpecs(required, signature.outputs) || !extrasOk) {
    throw new Error(
      `graph ${name} does not match @step1x/model-format: built inputs ${describeBuilt(graph.inputs)}, outputs ` +
        `${describeBuilt(graph.outputs)}; declared inputs ${describeDeclared(signature.inputs)}, outputs ` +
        describeDeclared(signature.outputs),
    );
  }
}
