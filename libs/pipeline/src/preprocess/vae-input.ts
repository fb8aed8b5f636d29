import { RgbImage } from './image.types';

const f32 = Math.fround;

/**
 * The reference image as the VAE encoder takes it: `[1, 3, H, W]` float32 in [−1, 1], computed as the official
 * code does (`to_tensor` = u8/255 in float32, then ·2 − 1).
 */
export function imageToVaeInput(image: RgbImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = f32(f32(f32(data[p * 3 + c] / 255) * 2) - 1);
  }
  return out;
}
