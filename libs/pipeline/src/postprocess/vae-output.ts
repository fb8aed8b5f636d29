import { RgbImage } from '../preprocess/image.types';

const f32 = Math.fround;

/**
 * The decoded image `[1, 3, H, W]` (unclamped, about [−1, 1]) to 8-bit RGB: clamp to [−1, 1], ·0.5 + 0.5, then
 * ·255 truncated toward zero, as `to_pil_image` does (`mul(255).byte()`), not rounded.
 */
export function vaeOutputToImage(decoded: Float32Array, height: number, width: number): RgbImage {
  const plane = width * height;
  if (decoded.length !== 3 * plane)
    throw new RangeError(`decoded image has ${decoded.length} values, expected ${3 * plane}`);
  const data = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = decoded[c * plane + p];
      const clamped = Number.isNaN(v) ? -1 : Math.min(1, Math.max(-1, v));
      data[p * 3 + c] = Math.trunc(f32(f32(f32(clamped * 0.5) + 0.5) * 255));
    }
  }
  return { width, height, data };
}
