/**
 * Classifier-free guidance with Step1X-Edit v1.1's per-token renormalisation (docs/MODEL.md §18,
 * `ImageGenerator.denoise` + `process_diff_norm`), in float32 semantics op by op as PyTorch does it:
 *
 *   d = c − u                                   per token, over the 64 packed channels
 *   if t_curr > truncate:  n = ‖d‖₂,  f = n^k if n > 1 else 1,  v = u + (w·d) / f
 *   else:                  v = u + w·d
 *
 * The renorm damps tokens whose cond/uncond disagreement is large during the first, noisiest steps only (with the
 * default 28-step schedule, t > 0.93 covers the first few steps). v1.0 used truncate = 1.0, which never fires.
 */

const f32 = Math.fround;

/** Channels of one packed DiT token: 16 latent channels × 2×2 patch. */
export const PACKED_TOKEN_CHANNELS = 64;

export interface GuidanceOptions {
  /** Guidance scale w. @defaultValue 6.0 (official `--cfg_guidance`) */
  readonly guidance?: number;
  /** Renorm only while t_curr is strictly above this. @defaultValue 0.93 (v1.1; v1.0 used 1.0 = never) */
  readonly truncate?: number;
  /** Exponent of the per-token divisor n^k. @defaultValue 0.4 */
  readonly renormK?: number;
  /** Channels per token (the norm runs over them). @defaultValue 64 */
  readonly channels?: number;
}

export const GUIDANCE_DEFAULTS: Required<GuidanceOptions> = {
  guidance: 6.0,
  truncate: 0.93,
  renormK: 0.4,
  channels: PACKED_TOKEN_CHANNELS,
};

export interface GuidanceResult {
  /** Guided velocity [N, channels]. */
  readonly velocity: Float32Array;
  /** Whether the renorm branch ran (t_curr > truncate). */
  readonly renormalised: boolean;
  /** Per-token ‖c − u‖₂ [N]; null when the renorm did not run. */
  readonly diffNorms: Float32Array | null;
  /** Per-token divisor f [N]; null when the renorm did not run. */
  readonly divisors: Float32Array | null;
}

/** `process_diff_norm`: n^k above 1, otherwise 1 (n = 1 exactly gives n, which is also 1). */
export function renormDivisor(norm: number, k: number): number {
  if (norm > 1) return f32(Math.pow(norm, k));
  if (norm < 1) return 1;
  return norm;
}

/**
 * Guided velocity from the cond and uncond DiT predictions of the noisy tokens (each [N, channels], row-major).
 * The norm is accumulated in float64 and rounded once, which is within an ulp of PyTorch's float32 reduction.
 */
export function applyGuidance(
  cond: Float32Array,
  uncond: Float32Array,
  tCurr: number,
  options: GuidanceOptions = {},
): GuidanceResult {
  const { guidance, truncate, renormK, channels } = { ...GUIDANCE_DEFAULTS, ...options };
  if (cond.length !== uncond.length) throw new RangeError(`cond has ${cond.length} values, uncond ${uncond.length}`);
  if (cond.length % channels !== 0)
    throw new RangeError(`${cond.length} values is not a whole number of ${channels}-channel tokens`);
  const tokens = cond.length / channels;
  const w = f32(guidance);
  const velocity = new Float32Array(cond.length);
  const renormalised = tCurr > truncate;
  const diffNorms = renormalised ? new Float32Array(tokens) : null;
  const divisors = renormalised ? new Float32Array(tokens) : null;
  for (let token = 0; token < tokens; token++) {
    const start = token * channels;
    const end = start + channels;
    let divisor = 1;
    if (renormalised) {
      let sumSquares = 0;
      for (let i = start; i < end; i++) {
        const d = f32(cond[i] - uncond[i]);
        sumSquares += d * d;
      }
      const norm = f32(Math.sqrt(sumSquares));
      divisor = f32(renormDivisor(norm, renormK));
      diffNorms![token] = norm;
      divisors![token] = divisor;
    }
    for (let i = start; i < end; i++) {
      const scaled = f32(w * f32(cond[i] - uncond[i]));
      velocity[i] = f32(uncond[i] + (renormalised ? f32(scaled / divisor) : scaled));
    }
  }
  return { velocity, renormalised, diffNorms, divisors };
}
