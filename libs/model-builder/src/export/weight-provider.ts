import { ElemType } from '../onnx/onnx-proto';

/**
 * Where parameter bytes come from when a graph is written: a checkpoint on disk, or tensors made in memory.
 * Data is pulled one tensor at a time, in chunks, so a provider never needs a whole checkpoint in memory.
 */
export interface WeightProvider {
  /** Every tensor name the provider holds (used for strict loading). */
  names(): Iterable<string>;
  /** The stored shape, or undefined when the provider has no such tensor. */
  shapeOf(name: string): readonly number[] | undefined;
  /** Writes the tensor converted to `elemType`, in order, through `sink`, in chunks of bounded size. */
  stream(name: string, elemType: ElemType, sink: (chunk: Uint8Array) => void): void;
}

export class StrictLoadError extends Error {
  readonly code = 'strict_load_failed';
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misshaped: { name: string; expected: readonly number[]; actual: readonly number[] }[],
    source: string,
  ) {
    const lines = [
      ...missing.map((n) => `missing: ${n}`),
      ...unexpected.map((n) => `unexpected: ${n}`),
      ...misshaped.map((m) => `misshaped: ${m.name} expected [${m.expected.join(', ')}] got [${m.actual.join(', ')}]`),
    ];
    super(`${source} does not match the model definition:\n  ${lines.join('\n  ')}`);
  }
}

/**
 * Strict loading: the provider's tensors must be exactly the expected ones, with the expected shapes.
 * `ignore` names tensors the checkpoint may carry that no graph uses (e.g. Qwen's lm_head).
 */
export function checkStrict(
  expected: ReadonlyMap<string, readonly number[]>,
  provider: WeightProvider,
  source: string,
  ignore: (name: string) => boolean = () => false,
): void {
  const missing: string[] = [];
  const misshaped: { name: string; expected: readonly number[]; actual: readonly number[] }[] = [];
  for (const [name, shape] of expected) {
    const actual = provider.shapeOf(name);
    if (!actual) missing.push(name);
    else if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) misshaped.push({ name, expected: shape, actual });
  }
  const unexpected = [...provider.names()].filter((n) => !expected.has(n) && !ignore(n));
  if (missing.length || unexpected.length || misshaped.length) throw new StrictLoadError(missing, unexpected, misshaped, source);
}
