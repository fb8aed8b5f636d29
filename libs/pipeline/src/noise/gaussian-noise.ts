import { normalFloat32, Seed } from '@step1x/tensors';

/**
 * The initial noise of an edit: seeded float32 standard normals (docs/MODEL.md §3). Seeds reproduce across our
 * versions; they are deliberately not PyTorch's (the official script draws bf16 noise from a CUDA generator,
 * which no other implementation can reproduce).
 *
 * The stream (a contract: changing any of this changes every seeded output):
 * - generator: Philox4x32-10 with Box–Muller, as defined in `@step1x/tensors` random.ts: key = the seed as an
 *   unsigned 64-bit integer split into (low 32 bits, high 32 bits); block b uses the counter
 *   (b low, b high, stream low, stream high); each block's words (w0, w1, w2, w3) give four normals
 *   r1·cos θ1, r1·sin θ1, r2·cos θ2, r2·sin θ2 with r = sqrt(−2 ln((w + 0.5)/2^32)) from w0 / w2 and
 *   θ = 2π (w + 0.5)/2^32 from w1 / w3, in float64, each rounded once to float32;
 * - stream id: NOISE_STREAM (0);
 * - layout: element k of the noise tensor, in row-major order over `shape`, is normal number k of that stream.
 *   So the noise for [1, 16, H/8, W/8] is the first 16·(H/8)·(W/8) numbers, and a smaller image's noise is a
 *   prefix of a larger one's only by coincidence of layout, never by design.
 */
export const NOISE_STREAM = 0;

function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0)
      throw new RangeError(`shape dims must be non-negative integers, got [${shape}]`);
    size *= dim;
  }
  return size;
}

/** Standard-normal float32 noise of `shape` (row-major) for `seed`, an unsigned 64-bit integer. */
export function gaussianNoise(seed: Seed, shape: readonly number[]): Float32Array {
  return normalFloat32(seed, shapeSize(shape), NOISE_STREAM);
}
