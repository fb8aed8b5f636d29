import { RgbImage } from './image.types';

const f32 = Math.fround;

/** The float32 value of each byte, computed as the official code does (`to_tensor` = u8/255 in float32, ·2 − 1). */
const BYTE_TO_VAE = Float32Array.from({ length: 256 }, (_, v) => f32(f32(f32(v / 255) * 2) - 1));

/**
 * The reference image as the VAE encoder takes it: `[1, 3, H, W]` float32 in [−1, 1]. Each value depends on its
 * byte only, so it is looked up (same bits as computing it per pixel).
 */
export function imageToVaeInput(image: RgbImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const offset = c * plane;
    for (let p = 0, src = c; p < plane; p++, src += 3) out[offset + p] = BYTE_TO_VAE[data[src]];
  }
  return out;
}
