import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertLatentPreviewMap, LATENT_PREVIEW_FILE, type LatentPreviewMap } from '@step1x/model-format';
import { RgbImage } from '../preprocess/image.types';

/** The map stored in a models folder, or null when the folder has none (previews are then unavailable). */
export function readLatentPreviewMap(modelsDir: string): LatentPreviewMap | null {
  const path = join(modelsDir, LATENT_PREVIEW_FILE);
  if (!existsSync(path)) return null;
  return assertLatentPreviewMap(JSON.parse(readFileSync(path, 'utf8')), path);
}

/**
 * A latent `[1, C, h, w]` (NCHW, the decoder's input) to an h×w RGB preview: rgb = W·z + b, clamped to [−1, 1] and
 * mapped to 8 bits like the decoder's output (`vaeOutputToImage`).
 */
export function latentToPreview(latent: Float32Array, height: number, width: number, map: LatentPreviewMap): RgbImage {
  const plane = height * width;
  const { channels, weights, bias } = map;
  if (latent.length !== channels * plane) {
    throw new RangeError(
      `latent has ${latent.length} values, a ${channels}×${height}×${width} map needs ${channels * plane}`,
    );
  }
  const data = new Uint8Array(3 * plane);
  for (let rgb = 0; rgb < 3; rgb++) {
    const row = weights[rgb];
    const acc = new Float32Array(plane).fill(bias[rgb]);
    for (let c = 0; c < channels; c++) {
      const w = row[c];
      const offset = c * plane;
      for (let p = 0; p < plane; p++) acc[p] += w * latent[offset + p];
    }
    for (let p = 0; p < plane; p++) {
      const clamped = Math.min(1, Math.max(-1, acc[p]));
      data[p * 3 + rgb] = Number.isNaN(acc[p]) ? 0 : Math.round((clamped * 0.5 + 0.5) * 255);
    }
  }
  return { width, height, data };
}
