import { InferenceSession, asFloat32, float32 } from '../runtime/inference-session.port';

export interface VaeEncodeOutput {
  /** Scaled posterior mean `[1, z, H/8, W/8]`: scale·(mean − shift) (docs/MODEL.md §3: the mean, not a sample). */
  readonly latent: Float32Array;
  readonly mean: Float32Array;
  readonly logvar: Float32Array;
  readonly dims: readonly number[];
}

/** image `[1, 3, H, W]` in [−1, 1] → the reference latent. */
export async function encodeImage(
  session: InferenceSession,
  image: Float32Array,
  height: number,
  width: number,
): Promise<VaeEncodeOutput> {
  const out = await session.run({ image: float32([1, 3, height, width], image) });
  return {
    latent: asFloat32(out.latent, 'latent'),
    mean: asFloat32(out.enc_mean, 'enc_mean'),
    logvar: asFloat32(out.enc_logvar, 'enc_logvar'),
    dims: out.latent.dims,
  };
}

/** Scaled latent `[1, z, h, w]` → image `[1, 3, 8h, 8w]`, unclamped (clamp when converting to pixels). */
export async function decodeLatent(
  session: InferenceSession,
  latent: Float32Array,
  dims: readonly number[],
): Promise<Float32Array> {
  const out = await session.run({ latent: float32(dims, latent) });
  return asFloat32(out.image, 'image');
}
