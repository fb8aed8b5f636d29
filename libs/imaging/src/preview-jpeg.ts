import sharp from 'sharp';
import { assertRgbImage, type RgbImage } from './rgb-image';

/** Long side of a step preview (CONTRACT.md "Live events and previews"). */
export const PREVIEW_MAX_SIDE = 256;

/**
 * A step preview as JPEG: the image shrunk (area average) to fit `maxSide` on its long side (never enlarged), at a
 * quality that keeps it a few KB.
 */
export async function encodePreviewJpeg(image: RgbImage, maxSide = PREVIEW_MAX_SIDE, quality = 80): Promise<Buffer> {
  assertRgbImage(image);
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality })
    .toBuffer();
}
