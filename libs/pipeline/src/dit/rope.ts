/**
 * DiT position ids and rotary tables (docs/MODEL.md §16, the official `prepare` + `EmbedND`/`rope`/`apply_rope`).
 *
 * Sequence layout: [text (all slots, padding included) ; noisy image tokens ; reference image tokens].
 * Position ids (3 axes):
 *   text       (0, 0, 0)            → RoPE is the identity there; text order comes from the MLLM alone
 *   noisy      (0, i, j)            for grid row i, column j
 *   reference  (1, 1 + i, 1 + j)    in v1.1;  (0, i, j), identical to the noisy ids, in v1.0
 *
 * Tables: for axis a with d_a dims and j < d_a/2, angle = pos_a · θ^(−2j/d_a), computed in float64 and stored as
 * float32, pairs concatenated in axis order. Pair p rotates the interleaved head dims (2p, 2p+1), not the
 * half-split convention that Qwen's RoPE uses.
 */

export type DitVersion = 'v1.0' | 'v1.1';

/** Step1X-Edit's full-size RoPE split of head_dim 128. */
export const STEP1X_AXES_DIM: readonly number[] = [16, 56, 56];
export const ROPE_THETA = 10000;
/** Text slots the DiT always sees (`max_length`), padding included. */
export const DIT_TEXT_TOKENS = 640;
export const POSITION_AXES = 3;

export interface PositionIdsOptions {
  /** Text slots before the image tokens. @defaultValue 640 */
  readonly textLength?: number;
  /** Token grid rows: image height / 16. */
  readonly gridHeight: number;
  /** Token grid columns: image width / 16. */
  readonly gridWidth: number;
  /** Which reference-id convention. @defaultValue 'v1.1' */
  readonly version?: DitVersion;
}

/** Position ids [L, 3] (float32, as the official code feeds them), L = textLength + 2·gridHeight·gridWidth. */
export function buildPositionIds(options: PositionIdsOptions): Float32Array {
  const { textLength = DIT_TEXT_TOKENS, gridHeight, gridWidth, version = 'v1.1' } = options;
  for (const [name, v] of Object.entries({ textLength, gridHeight, gridWidth })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  const tokens = gridHeight * gridWidth;
  const ids = new Float32Array((textLength + 2 * tokens) * POSITION_AXES);
  const refOffset = version === 'v1.1' ? 1 : 0;
  for (let i = 0; i < gridHeight; i++) {
    for (let j = 0; j < gridWidth; j++) {
      const noisy = (textLength + i * gridWidth + j) * POSITION_AXES;
      ids[noisy + 1] = i;
      ids[noisy + 2] = j;
      const ref = noisy + tokens * POSITION_AXES;
      ids[ref] = refOffset;
      ids[ref + 1] = refOffset + i;
      ids[ref + 2] = refOffset + j;
    }
  }
  return ids;
}

/** cos/sin of every (position, pair): each [length, pairs] row-major, pairs = sum(axesDim)/2. */
export interface RopeTables {
  readonly length: number;
  readonly pairs: number;
  readonly cos: Float32Array;
  readonly sin: Float32Array;
}

/** Per-pair frequencies θ^(−2j/d_a), concatenated over axes, in float64 as `rope()` computes them. */
export function ropeFrequencies(axesDim: readonly number[], theta: number): { axis: Int32Array; omega: Float64Array } {
  const pairs = axesDim.reduce((sum, d) => sum + d / 2, 0);
  const axis = new Int32Array(pairs);
  const omega = new Float64Array(pairs);
  let p = 0;
  axesDim.forEach((dim, a) => {
    if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0)
      throw new RangeError(`axis dim must be a positive even integer, got ${dim}`);
    for (let j = 0; j < dim; j += 2, p++) {
      axis[p] = a;
      omega[p] = 1 / Math.pow(theta, j / dim);
    }
  });
  return { axis, omega };
}

/** RoPE tables for position ids [L, axesDim.length]. */
export function buildRopeTables(
  ids: Float32Array,
  axesDim: readonly number[] = STEP1X_AXES_DIM,
  theta = ROPE_THETA,
): RopeTables {
  const axes = axesDim.length;
  if (ids.length % axes !== 0)
    throw new RangeError(`${ids.length} ids is not a whole number of ${axes}-axis positions`);
  const length = ids.length / axes;
  const { axis, omega } = ropeFrequencies(axesDim, theta);
  const pairs = omega.length;
  const cos = new Float32Array(length * pairs);
  const sin = new Float32Array(length * pairs);
  for (let l = 0; l < length; l++) {
    for (let p = 0; p < pairs; p++) {
      const angle = ids[l * axes + axis[p]] * omega[p];
      cos[l * pairs + p] = Math.cos(angle);
      sin[l * pairs + p] = Math.sin(angle);
    }
  }
  return { length, pairs, cos, sin };
}

/** The official `EmbedND` output without its leading [1, 1]: [L, pairs, 2, 2] = [[cos, −sin], [sin, cos]]. */
export function ropeRotationMatrices(tables: RopeTables): Float32Array {
  const out = new Float32Array(tables.length * tables.pairs * 4);
  for (let k = 0; k < tables.length * tables.pairs; k++) {
    const c = tables.cos[k];
    const s = tables.sin[k];
    out[k * 4] = c;
    out[k * 4 + 1] = -s;
    out[k * 4 + 2] = s;
    out[k * 4 + 3] = c;
  }
  return out;
}

/**
 * Reference `apply_rope` on x laid out [batch, L, heads, headDim] (headDim = 2·pairs), in float32:
 * out0 = cos·x0 − sin·x1, out1 = sin·x0 + cos·x1 for each interleaved pair (x0, x1) = (x[2p], x[2p+1]).
 */
export function applyRope(x: Float32Array, tables: RopeTables, heads: number): Float32Array {
  const { length, pairs, cos, sin } = tables;
  const headDim = pairs * 2;
  const perBatch = length * heads * headDim;
  if (x.length % perBatch !== 0)
    throw new RangeError(`x has ${x.length} values, not a multiple of L·heads·headDim = ${perBatch}`);
  const f32 = Math.fround;
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += perBatch) {
    for (let l = 0; l < length; l++) {
      for (let h = 0; h < heads; h++) {
        const row = base + (l * heads + h) * headDim;
        for (let p = 0; p < pairs; p++) {
          const c = cos[l * pairs + p];
          const s = sin[l * pairs + p];
          const x0 = x[row + 2 * p];
          const x1 = x[row + 2 * p + 1];
          out[row + 2 * p] = f32(f32(c * x0) + f32(-s * x1));
          out[row + 2 * p + 1] = f32(f32(s * x0) + f32(c * x1));
        }
      }
    }
  }
  return out;
}
