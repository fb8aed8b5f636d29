/**
 * The fixed linear map from VAE latents to RGB used for step previews (CONTRACT.md "Live events and previews"):
 * per latent pixel, rgb = W·z + b in the VAE decoder's output range (about [−1, 1]). Fitted by least squares on the
 * models' own VAE (`step1x models fit-preview`, `fitLatentPreview`) and stored as data next to the models: no
 * decoder run per preview, just 3 × channels multiply-adds per latent pixel.
 */
export interface LatentPreviewMap {
  format: typeof LATENT_PREVIEW_FORMAT;
  /** Latent channels the map reads (z_channels, 16 for the FLUX VAE). */
  channels: number;
  /** `[3][channels]`: rows R, G, B. */
  weights: number[][];
  /** `[3]`. */
  bias: number[];
  /** How it was fitted and how well it fits held-out decodes (R² per channel and mean), for the record. */
  fit: LatentPreviewFitReport;
}

export interface LatentPreviewFitReport {
  /** sha256 of the VAE decoder graph it was fitted on, from the models' manifest, or null. */
  vae_decoder_sha256: string | null;
  train_pixels: number;
  heldout_pixels: number;
  r2_train: number;
  /** Mean over R, G, B of R² on held-out decodes. */
  r2_heldout: number;
  r2_heldout_per_channel: number[];
  /** R² of the training mean as a constant predictor on the same held-out decodes (≤ 0 by construction). */
  r2_heldout_mean_predictor: number;
}

export const LATENT_PREVIEW_FORMAT = 'step1x-latent-preview/1';
/** File name in a models folder. */
export const LATENT_PREVIEW_FILE = 'latent_preview.json';

/** Checks a parsed map (shape, finiteness); throws naming the problem. */
export function assertLatentPreviewMap(value: unknown, where: string): LatentPreviewMap {
  const map = value as LatentPreviewMap;
  const fail = (why: string): never => {
    throw new Error(`${where}: not a latent preview map (${why})`);
  };
  if (typeof map !== 'object' || map === null) fail('not an object');
  if (map.format !== LATENT_PREVIEW_FORMAT) fail(`format is ${String(map.format)}, expected ${LATENT_PREVIEW_FORMAT}`);
  if (!Number.isInteger(map.channels) || map.channels <= 0) fail('channels');
  if (!Array.isArray(map.weights) || map.weights.length !== 3) fail('weights must have 3 rows');
  for (const row of map.weights) {
    if (!Array.isArray(row) || row.length !== map.channels || !row.every(Number.isFinite)) fail('a weight row');
  }
  if (!Array.isArray(map.bias) || map.bias.length !== 3 || !map.bias.every(Number.isFinite)) fail('bias');
  return map;
}
