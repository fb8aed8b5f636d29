import { assertRgbImage, ResampleFilter, RgbImage } from './image.types';

/**
 * Pillow-compatible uint8 RGB resampling (docs/MODEL.md §2), bit-exact with `PIL.Image.resize` for the BICUBIC and
 * LANCZOS filters. The official pipeline resizes with PIL at three places (size_level input resize, Qwen's
 * fetch_image and processor resizes, and the final resize back to the source size), and the MLLM goldens gate
 * those bytes exactly, so this follows PIL's arithmetic step by step rather than any "nicer" resampler:
 *
 * - separable, horizontal pass first, each pass skipped when that dimension is unchanged;
 * - per output index, weights from the filter in float64, normalised to sum 1, then converted to int32 with
 *   22 fractional bits (rounded half away from zero);
 * - each output sample starts at 1 << 21 (the rounding half), accumulates pixel·weight, is shifted right by 22
 *   and clamped to 0..255 after *each* pass (the intermediate image is uint8).
 */

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const INV_ONE = 1 / ONE;

interface FilterKernel {
  readonly support: number;
  readonly weight: (x: number) => number;
}

const BICUBIC_A = -0.5;

function bicubicWeight(x: number): number {
  const ax = x < 0 ? -x : x;
  if (ax < 1) return ((BICUBIC_A + 2) * ax - (BICUBIC_A + 3)) * ax * ax + 1;
  if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * BICUBIC_A;
  return 0;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczosWeight(x: number): number {
  // PIL's window is half-open: [-3, 3).
  if (x >= -3 && x < 3) return sinc(x) * sinc(x / 3);
  return 0;
}

const KERNELS: Record<ResampleFilter, FilterKernel> = {
  bicubic: { support: 2, weight: bicubicWeight },
  lanczos: { support: 3, weight: lanczosWeight },
};

/** Fixed-point weights for one axis: output index o reads `count[o]` inputs from `first[o]`, weights at o·taps. */
export interface AxisCoefficients {
  readonly taps: number;
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Int32Array;
}

export function computeAxisCoefficients(inSize: number, outSize: number, filter: ResampleFilter): AxisCoefficients {
  const kernel = KERNELS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const row = new Float64Array(taps);
  const invFilterScale = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    // PIL truncates toward zero here (a C int cast), then clamps to the image.
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = kernel.weight((i + lo - center + 0.5) * invFilterScale);
      row[i] = w;
      sum += w;
    }
    const base = o * taps;
    for (let i = 0; i < n; i++) {
      const normalised = sum !== 0 ? row[i] / sum : row[i];
      weights[base + i] = normalised < 0 ? Math.trunc(-0.5 + normalised * ONE) : Math.trunc(0.5 + normalised * ONE);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { taps, first, count, weights };
}

function clampToByte(accumulated: number): number {
  const v = Math.floor(accumulated * INV_ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resizeHorizontal(src: RgbImage, width: number, filter: ResampleFilter): RgbImage {
  const { taps, first, count, weights } = computeAxisCoefficients(src.width, width, filter);
  const { height, data } = src;
  const srcRow = src.width * 3;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const rowStart = y * srcRow;
    let dst = y * width * 3;
    for (let x = 0; x < width; x++) {
      const k = x * taps;
      const n = count[x];
      let p = rowStart + first[x] * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let i = 0; i < n; i++, p += 3) {
        const w = weights[k + i];
        r += data[p] * w;
        g += data[p + 1] * w;
        b += data[p + 2] * w;
      }
      out[dst++] = clampToByte(r);
      out[dst++] = clampToByte(g);
      out[dst++] = clampToByte(b);
    }
  }
  return { width, height, data: out };
}

function resizeVertical(src: RgbImage, height: number, filter: ResampleFilter): RgbImage {
  const { taps, first, count, weights } = computeAxisCoefficients(src.height, height, filter);
  const { width, data } = src;
  const stride = width * 3;
  const out = new Uint8Array(stride * height);
  // Row by row (each tap adds a whole input row), so memory is read in order rather than down columns. Every sum
  // is an exact integer in float64 and the taps are added in the same order, so the bytes are unchanged.
  const acc = new Float64Array(stride);
  for (let y = 0; y < height; y++) {
    const k = y * taps;
    const n = count[y];
    const top = first[y] * stride;
    acc.fill(HALF);
    for (let i = 0; i < n; i++) {
      const w = weights[k + i];
      const row = top + i * stride;
      for (let c = 0; c < stride; c++) acc[c] += data[row + c] * w;
    }
    const dstRow = y * stride;
    for (let c = 0; c < stride; c++) out[dstRow + c] = clampToByte(acc[c]);
  }
  return { width, height, data: out };
}

/**
 * `PIL.Image.resize((width, height), filter)` on an RGB image, bit for bit. A same-size call returns a copy, as
 * PIL does.
 */
export function resize(image: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  assertRgbImage(image);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (!(filter in KERNELS)) throw new RangeError(`unknown resample filter ${String(filter)}`);
  let current: RgbImage = image;
  if (width !== current.width) current = resizeHorizontal(current, width, filter);
  if (height !== current.height) current = resizeVertical(current, height, filter);
  if (current === image) return { width, height, data: new Uint8Array(image.data) };
  return current;
}
