/**
 * The DiT working size chosen by the official `ImageGenerator.input_process_image(img, img_size=size_level)`
 * (docs/MODEL.md §2): keep the aspect ratio, make the area about size_level², then floor both sides to multiples of 16.
 * The long side may exceed size_level. Arithmetic is float64 with ceil, exactly as the Python code does it.
 */

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export class SizeLevelError extends Error {
  readonly code = 'size_level_too_small_for_aspect_ratio';
  constructor(message: string) {
    super(message);
    this.name = 'SizeLevelError';
  }
}

/** Multiple of 16 that both sides are floored to: 8 (VAE) × 2 (2×2 token packing). */
export const DIT_SIZE_MULTIPLE = 16;

export function sizeLevelTarget(source: ImageSize, sizeLevel: number): ImageSize {
  const { width: w, height: h } = source;
  if (!(w > 0 && h > 0 && sizeLevel > 0)) {
    throw new RangeError(`size_level target needs positive sizes, got ${w}x${h} at ${sizeLevel}`);
  }
  const ratio = w / h;
  let newWidth: number;
  let newHeight: number;
  if (w > h) {
    newWidth = Math.ceil(Math.sqrt(sizeLevel * sizeLevel * ratio));
    newHeight = Math.ceil(newWidth / ratio);
  } else {
    newHeight = Math.ceil(Math.sqrt((sizeLevel * sizeLevel) / ratio));
    newWidth = Math.ceil(newHeight * ratio);
  }
  const width = Math.floor(newWidth / DIT_SIZE_MULTIPLE) * DIT_SIZE_MULTIPLE;
  const height = Math.floor(newHeight / DIT_SIZE_MULTIPLE) * DIT_SIZE_MULTIPLE;
  if (width === 0 || height === 0) {
    // The official code would hand PIL a zero-sized target; refuse with a clear reason instead.
    throw new SizeLevelError(
      `source ${w}x${h} is too elongated for size_level ${sizeLevel}: target ${width}x${height}`,
    );
  }
  return { width, height };
}

/** Packed DiT tokens of the noisy image: N = (H/16)·(W/16). */
export function imageTokenCount(ditSize: ImageSize): number {
  return (ditSize.width / DIT_SIZE_MULTIPLE) * (ditSize.height / DIT_SIZE_MULTIPLE);
}
