import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertStep1XManifest, STEP1X_MANIFEST_FILE, type LatentPreviewMap } from '@step1x/model-format';
import { gaussianNoise } from '../noise/gaussian-noise';
import { RgbImage } from '../preprocess/image.types';
import { imageToVaeInput } from '../preprocess/vae-input';
import { SessionFactory, SessionOptions } from '../runtime/inference-session.port';
import { createOrtSession } from '../runtime/ort-session';
import { decodeLatent, encodeImage } from '../vae/vae.stage';
import { fitLatentPreview, type VaeSample } from './fit-latent-preview';

export interface FitOnVaeOptions extends SessionOptions {
  /** Sample images (square). @defaultValue 32 */
  samples?: number;
  /** Side of each sample image in pixels (a multiple of 16). @defaultValue 128 */
  size?: number;
  /** Every n-th sample is held out for the R² report. @defaultValue 4 */
  heldoutEvery?: number;
  /** @defaultValue 0 */
  seed?: number;
  sessionFactory?: SessionFactory;
}

/**
 * Fits the latent→RGB preview map on a models folder's own VAE: synthetic images (flat colours, gradients, blobs,
 * blocks, noise: every hue and many textures, no data set needed) are encoded to latents (the scaled posterior
 * mean, exactly what the sampler works in) and decoded again; the decodes, area-downsampled to the latent grid,
 * are the least-squares targets. Every `heldoutEvery`-th sample is kept out of the fit and scored.
 */
export async function fitLatentPreviewOnVae(
  modelsDir: string,
  options: FitOnVaeOptions = {},
): Promise<LatentPreviewMap> {
  const heldoutEvery = options.heldoutEvery ?? 4;
  const { samples, vaeDecoderSha256 } = await vaeSamples(modelsDir, options);
  const train = samples.filter((_, i) => i % heldoutEvery !== heldoutEvery - 1);
  const heldout = samples.filter((_, i) => i % heldoutEvery === heldoutEvery - 1);
  return fitLatentPreview(train, heldout, vaeDecoderSha256);
}

/** Synthetic images through the folder's VAE: each latent with its decode (the fit's data; tests score maps on them). */
export async function vaeSamples(
  modelsDir: string,
  options: Omit<FitOnVaeOptions, 'heldoutEvery'> = {},
): Promise<{ samples: VaeSample[]; vaeDecoderSha256: string | null }> {
  const count = options.samples ?? 32;
  const size = options.size ?? 128;
  if (size % 16 !== 0 || size <= 0) throw new RangeError(`size must be a positive multiple of 16, got ${size}`);
  const manifestPath = join(modelsDir, STEP1X_MANIFEST_FILE);
  const manifest = assertStep1XManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
  const open = options.sessionFactory ?? createOrtSession;
  const encoder = await open(join(modelsDir, manifest.graphs.vae_encoder), options);
  const decoder = await open(join(modelsDir, manifest.graphs.vae_decoder), options);
  try {
    const samples: VaeSample[] = [];
    const channels = manifest.config.vae.z_channels;
    const h = size / 8;
    for (let i = 0; i < count; i++) {
      const image = syntheticImage((options.seed ?? 0) * 1000 + i, size);
      const { latent } = await encodeImage(encoder, imageToVaeInput(image), size, size);
      const decoded = await decodeLatent(decoder, latent, [1, channels, h, h]);
      samples.push({ latent, decoded, channels, height: h, width: h });
    }
    return { samples, vaeDecoderSha256: manifest.files[manifest.graphs.vae_decoder]?.sha256 ?? null };
  } finally {
    await Promise.all([encoder.release(), decoder.release()]);
  }
}

/** A deterministic test card of one of five kinds, with colours drawn from `seed`. */
export function syntheticImage(seed: number, size: number): RgbImage {
  const random = gaussianNoise(seed, [64]);
  let next = 0;
  const uniform = () => 0.5 * (1 + Math.tanh(random[next++ % random.length]));
  const colour = () => [uniform() * 255, uniform() * 255, uniform() * 255];
  const [a, b] = [colour(), colour()];
  const kind = seed % 5;
  const noise = gaussianNoise(seed + 7919, [size * size]);
  const blobs = Array.from({ length: 4 }, () => ({
    x: uniform(),
    y: uniform(),
    r: 0.1 + 0.3 * uniform(),
    c: colour(),
  }));
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x / (size - 1);
      const v = y / (size - 1);
      let px: number[];
      if (kind === 0) px = a;
      else if (kind === 1) px = a.map((ac, c) => ac + (b[c] - ac) * (u + v) * 0.5);
      else if (kind === 2) px = (Math.floor(u * 4) + Math.floor(v * 4)) % 2 === 0 ? a : b;
      else if (kind === 3) {
        px = [...b];
        for (const blob of blobs) {
          const w = Math.exp(-((u - blob.x) ** 2 + (v - blob.y) ** 2) / (blob.r * blob.r));
          px = px.map((pc, c) => pc + (blob.c[c] - pc) * w);
        }
      } else px = a.map((ac) => ac + 40 * noise[y * size + x]);
      for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(px[c])));
    }
  }
  return { width: size, height: size, data };
}
