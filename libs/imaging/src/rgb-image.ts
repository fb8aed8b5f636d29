/**
 * An 8-bit sRGB image, row-major HWC with 3 interleaved channels (R, G, B) and no padding:
 * pixel (x, y) channel c lives at `data[(y * width + x) * 3 + c]`.
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export function assertRgbImage(image: RgbImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(`image ${width}x${height} needs ${width * height * 3} bytes of RGB, got ${data.length}`);
  }
}
