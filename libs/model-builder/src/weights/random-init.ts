import { Philox, Seed, streamIdOf, transcode, writeSafetensors } from '@step1x/tensors';
import { elementCount, ParameterTable, shapeOf } from './tensor-table';

/**
 * Random tiny weights (docs/MODEL.md §5). Every parameter is drawn, the modulation layers the official code
 * zero-initialises included, so a tiny model's velocity depends on its inputs:
 * - `bias`: a name ending in `.bias` → N(0, 0.05²);
 * - `norm-scale`: a 1-D `*.weight` / `*.scale` whose module name contains `norm` or is `ln_*` (RMSNorm, LayerNorm,
 *   GroupNorm, QK-norm scales, Qwen's merger `ln_q`) → 1 + 0.1·N(0, 1);
 * - `weight`: everything else → N(0, σ²) with σ = clip(1/√fan_in, 0.02, 0.2) and fan_in the product of the dims
 *   after the first (1 for a 0-/1-D tensor such as v1.0's `connector.scale_factor`, so σ = 0.2).
 * Values of parameter `name` are elements [0, n) of the Philox normal stream with key `seed` and stream id
 * `streamIdOf(name)` (see @step1x/tensors random.ts), so they depend only on (seed, name): adding, removing or
 * reordering other parameters never changes them.
 */
export type ParameterKind = 'weight' | 'bias' | 'norm-scale';

/** The fixed default seed of the tiny models (the cache key is builder version + config + seed). */
export const DEFAULT_TINY_SEED = 20250527;

const BIAS_STD = 0.05;
const NORM_SCALE_STD = 0.1;
const MIN_WEIGHT_STD = 0.02;
const MAX_WEIGHT_STD = 0.2;

export function parameterKind(name: string, shape: readonly number[]): ParameterKind {
  const parts = name.split('.');
  const leaf = parts[parts.length - 1];
  if (leaf === 'bias') return 'bias';
  const module = parts.length >= 2 ? parts[parts.length - 2].toLowerCase() : '';
  if (
    shape.length === 1 &&
    (leaf === 'weight' || leaf === 'scale') &&
    (module.includes('norm') || /^ln(_|$)/.test(module))
  ) {
    return 'norm-scale';
  }
  return 'weight';
}

/** σ of a `weight` parameter: clip(1/√fan_in, 0.02, 0.2). */
export function weightStd(shape: readonly number[]): number {
  const fanIn = elementCount(shape.slice(1));
  return Math.min(MAX_WEIGHT_STD, Math.max(MIN_WEIGHT_STD, 1 / Math.sqrt(fanIn)));
}

/** The values of one parameter under `seed` (float32, row-major). */
export function randomParameter(name: string, shape: readonly number[], seed: Seed = DEFAULT_TINY_SEED): Float32Array {
  const values = new Philox(seed, streamIdOf(name)).fillNormalFloat32(new Float32Array(elementCount(shape)));
  const kind = parameterKind(name, shape);
  if (kind === 'norm-scale') {
    for (let i = 0; i < values.length; i++) values[i] = 1 + NORM_SCALE_STD * values[i];
  } else {
    const std = kind === 'bias' ? BIAS_STD : weightStd(shape);
    for (let i = 0; i < values.length; i++) values[i] *= std;
  }
  return values;
}

/** Every parameter of `expected` drawn under `seed`, in the table's order. */
export function randomStateDict(expected: ParameterTable, seed: Seed = DEFAULT_TINY_SEED): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, entry] of expected) out.set(name, randomParameter(name, shapeOf(entry), seed));
  return out;
}

export interface WriteStateDictOptions {
  /** Stored dtype. @defaultValue 'F32' */
  readonly dtype?: 'F32' | 'F16' | 'BF16';
  /** `__metadata__` of the file. @defaultValue none */
  readonly metadata?: Record<string, string>;
}

/** Writes a float32 state dict as a safetensors file, shapes from `shapes` (checked against the value counts). */
export function writeStateDict(
  path: string,
  stateDict: ReadonlyMap<string, Float32Array>,
  shapes: ParameterTable,
  options: WriteStateDictOptions = {},
): void {
  const dtype = options.dtype ?? 'F32';
  const tensors = new Map(
    [...stateDict].map(([name, values]) => {
      const entry = shapes.get(name);
      if (!entry) throw new RangeError(`no shape for ${name}`);
      const shape = shapeOf(entry);
      if (elementCount(shape) !== values.length)
        throw new RangeError(`${name}: ${values.length} values for shape [${shape.join(', ')}]`);
      const src = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      let data = src;
      if (dtype !== 'F32') {
        data = new Uint8Array(values.length * 2);
        transcode(src, 'F32', data, dtype, values.length);
      }
      return [name, { dtype, shape, data }] as const;
    }),
  );
  writeSafetensors(path, tensors, options.metadata);
}
