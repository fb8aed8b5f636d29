import { RgbImage } from './image.types';

/**
 * The synthetic source image of the step1x-mllm-inputs goldens, built from the integer recipe stored in each
 * group's JSON (`source.recipe`). The 1920×1080 source is not stored there, so tests rebuild it and check it
 * against the recorded sha256 before using it. Test support only.
 */
export function makeGoldenSourceImage(width: number, height: number): RgbImage {
  const W = width;
  const H = height;
  const data = new Uint8Array(W * H * 3);
  const discX = Math.floor((7 * W) / 20);
  const discY = Math.floor((2 * H) / 5);
  const discR = Math.floor((9 * Math.min(W, H)) / 50);
  const rectX0 = Math.floor((3 * W) / 5);
  const rectX1 = Math.floor((17 * W) / 20);
  const rectY0 = Math.floor((11 * H) / 20);
  const rectY1 = Math.floor((17 * H) / 20);
  const checkX0 = Math.floor(W / 20);
  const checkX1 = checkX0 + Math.floor(W / 5);
  const checkY0 = Math.floor((13 * H) / 20);
  const checkY1 = checkY0 + Math.floor(H / 5);
  const lineHalfWidth = Math.floor(Math.max(W, H) / 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let r = Math.floor((255 * x) / (W - 1));
      let g = Math.floor((255 * y) / (H - 1));
      let b = Math.floor((255 * (x + y)) / (W + H - 2));
      if ((x - discX) ** 2 + (y - discY) ** 2 <= discR ** 2) [r, g, b] = [250, 30, 60];
      if (x >= rectX0 && x < rectX1 && y >= rectY0 && y < rectY1) [r, g, b] = [20, 200, 90];
      if (x >= checkX0 && x < checkX1 && y >= checkY0 && y < checkY1) {
        const grey = 255 * ((Math.floor(x / 4) + Math.floor(y / 4)) % 2);
        [r, g, b] = [grey, grey, grey];
      }
      if (Math.abs(x * H - y * W) <= lineHalfWidth) [r, g, b] = [255, 255, 255];
      const p = (y * W + x) * 3;
      data[p] = r;
      data[p + 1] = g;
      data[p + 2] = b;
    }
  }
  return { width, height, data };
}
