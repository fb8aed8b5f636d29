import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RgbImage, assertRgbImage } from '../preprocess/image.types';
import { resize } from '../preprocess/resample';
import { QwenInputError } from './mllm.errors';
import { GridThw } from './window-index';

/**
 * The Qwen2.5-VL image path of Step1X-Edit (docs/MODEL.md §14): `qwen_vl_utils.fetch_image` (smart_resize, factor 28,
 * 3136…12,845,056 px, PIL bicubic), then the HF image processor (smart_resize, factor patch·merge, 200,704…254,016 px
 * as the conditioner sets them, PIL bicubic, ×1/255, CLIP mean/std, T = 2 frames, patchify).
 */
export interface QwenImageConfig {
  readonly patchSize: number;
  readonly temporalPatchSize: number;
  readonly mergeSize: number;
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
  /** Applied in float64 before the cast to float32, as the processor's `rescale` does. */
  readonly rescaleFactor: number;
  /** `fetch_image`'s own constants (qwen_vl_utils IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS). */
  readonly fetchFactor: number;
  readonly fetchMinPixels: number;
  readonly fetchMaxPixels: number;
  /** The processor's pixel range; the Step1X conditioner overrides the preprocessor_config values with these. */
  readonly minPixels: number;
  readonly maxPixels: number;
}

export const STEP1X_QWEN_IMAGE_CONFIG: QwenImageConfig = {
  patchSize: 14,
  temporalPatchSize: 2,
  mergeSize: 2,
  imageMean: [0.48145466, 0.4578275, 0.40821073],
  imageStd: [0.26862954, 0.26130258, 0.27577711],
  rescaleFactor: 1 / 255,
  fetchFactor: 28,
  fetchMinPixels: 4 * 28 * 28,
  fetchMaxPixels: 16384 * 28 * 28,
  minPixels: 256 * 28 * 28,
  maxPixels: 324 * 28 * 28,
};

/** qwen_vl_utils and transformers both refuse aspect ratios above this. */
export const QWEN_MAX_ASPECT_RATIO = 200;

function numberTriple(value: unknown, name: string): [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number')) {
    throw new QwenInputError('invalid_image', `preprocessor config: ${name} must be 3 numbers`);
  }
  return [value[0], value[1], value[2]];
}

/**
 * Patch sizes, mean/std and rescale factor from a `preprocessor_config.json` object; the pixel ranges stay the
 * Step1X ones (the conditioner passes its own min/max to the processor, and `fetch_image` ignores the file).
 */
export function qwenImageConfigFromPreprocessor(json: Record<string, unknown>): QwenImageConfig {
  const int = (name: string, fallback: number) => {
    const v = json[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new QwenInputError('invalid_image', `preprocessor config: ${name} must be a positive integer`);
    }
    return v;
  };
  const base = STEP1X_QWEN_IMAGE_CONFIG;
  return {
    ...base,
    patchSize: int('patch_size', base.patchSize),
    temporalPatchSize: int('temporal_patch_size', base.temporalPatchSize),
    mergeSize: int('merge_size', base.mergeSize),
    imageMean: json.image_mean === undefined ? base.imageMean : numberTriple(json.image_mean, 'image_mean'),
    imageStd: json.image_std === undefined ? base.imageStd : numberTriple(json.image_std, 'image_std'),
    rescaleFactor: typeof json.rescale_factor === 'number' ? json.rescale_factor : base.rescaleFactor,
  };
}

/** Reads `preprocessor_config.json` from a Qwen2.5-VL directory; the Step1X defaults when the file is absent. */
export function loadQwenImageConfig(dir: string): QwenImageConfig {
  const path = join(dir, 'preprocessor_config.json');
  if (!existsSync(path)) return STEP1X_QWEN_IMAGE_CONFIG;
  return qwenImageConfigFromPreprocessor(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
}

/** Python's `round` on a float: ties go to the even integer. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

export interface SmartResizeOptions {
  readonly factor: number;
  readonly minPixels: number;
  readonly maxPixels: number;
  /**
   * transformers clamps the shrink branch to at least one factor; qwen_vl_utils 0.0.10 does not (its result can
   * be 0, which PIL then rejects).
   */
  readonly clampShrinkToFactor: boolean;
}

/** `smart_resize(height, width, …)` in float64, as both Python copies compute it. Returns the new size. */
export function smartResize(
  height: number,
  width: number,
  options: SmartResizeOptions,
): { height: number; width: number } {
  const { factor, minPixels, maxPixels } = options;
  if (Math.max(height, width) / Math.min(height, width) > QWEN_MAX_ASPECT_RATIO) {
    throw new QwenInputError(
      'unsupported_aspect_ratio',
      `aspect ratio of ${width}x${height} exceeds ${QWEN_MAX_ASPECT_RATIO}, which Qwen's smart_resize refuses`,
    );
  }
  let h = Math.max(factor, roundHalfEven(height / factor) * factor);
  let w = Math.max(factor, roundHalfEven(width / factor) * factor);
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.floor(height / beta / factor) * factor;
    w = Math.floor(width / beta / factor) * factor;
    if (options.clampShrinkToFactor) {
      h = Math.max(factor, h);
      w = Math.max(factor, w);
    }
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  if (h <= 0 || w <= 0) {
    throw new QwenInputError('image_too_small', `smart_resize of ${width}x${height} gives an empty ${w}x${h} image`);
  }
  return { height: h, width: w };
}

export interface PreparedQwenImage {
  /** Output of `fetch_image`. */
  readonly fetched: RgbImage;
  /** The image the processor normalises and patchifies. */
  readonly vit: RgbImage;
  readonly grid: GridThw;
  /** Merged image tokens the `<|image_pad|>` expands to: `t·(h/merge)·(w/merge)`. */
  readonly numImageTokens: number;
  /** `pixel_values` `[grid.t·grid.h·grid.w, 3·T·P·P]` row-major float32. */
  readonly pixelValues: Float32Array;
  readonly pixelValuesShape: readonly [number, number];
}

export function prepareQwenImage(ref: RgbImage, config: QwenImageConfig = STEP1X_QWEN_IMAGE_CONFIG): PreparedQwenImage {
  assertRgbImage(ref);
  const fetchSize = smartResize(ref.height, ref.width, {
    factor: config.fetchFactor,
    minPixels: config.fetchMinPixels,
    maxPixels: config.fetchMaxPixels,
    clampShrinkToFactor: false,
  });
  const fetched = resize(ref, fetchSize.width, fetchSize.height, 'bicubic');
  const vitSize = smartResize(fetched.height, fetched.width, {
    factor: config.patchSize * config.mergeSize,
    minPixels: config.minPixels,
    maxPixels: config.maxPixels,
    clampShrinkToFactor: true,
  });
  const vit = resize(fetched, vitSize.width, vitSize.height, 'bicubic');
  const grid: GridThw = { t: 1, h: vit.height / config.patchSize, w: vit.width / config.patchSize };
  const patches = patchifyImage(vit, config);
  return {
    fetched,
    vit,
    grid,
    numImageTokens: (grid.h / config.mergeSize) * (grid.w / config.mergeSize),
    pixelValues: expandPatches(patches.values, pixelNormalisationTable(config), patches.columns, config),
    pixelValuesShape: [patches.rows, patches.columns],
  };
}

/**
 * float32 value of each (channel, byte): `(f32(v·rescale) − mean) / std` with mean/std as float32 and both
 * operations in float32, as the processor does on a float32 array. `[3, 256]` row-major.
 */
export function pixelNormalisationTable(config: QwenImageConfig = STEP1X_QWEN_IMAGE_CONFIG): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.imageMean[c]);
    const std = Math.fround(config.imageStd[c]);
    for (let v = 0; v < 256; v++) {
      const scaled = Math.fround(v * config.rescaleFactor);
      table[c * 256 + v] = Math.fround(Math.fround(scaled - mean) / std);
    }
  }
  return table;
}

export interface PatchMatrix {
  /** The source byte of every `pixel_values` element, `[rows, columns]` row-major. */
  readonly values: Uint8Array;
  readonly rows: number;
  readonly columns: number;
}

/**
 * The processor's patch layout: rows `(t, block_row, block_col, sub_row, sub_col)` so each merge group of
 * `merge²` rows is contiguous; each row flattened `(channel, frame, py, px)`. The single image fills every frame.
 */
export function patchifyImage(image: RgbImage, config: QwenImageConfig = STEP1X_QWEN_IMAGE_CONFIG): PatchMatrix {
  const { patchSize: P, temporalPatchSize: T, mergeSize: M } = config;
  if (image.width % (P * M) !== 0 || image.height % (P * M) !== 0) {
    throw new QwenInputError('invalid_image', `${image.width}x${image.height} is not a multiple of ${P * M}`);
  }
  const blocksH = image.height / (P * M);
  const blocksW = image.width / (P * M);
  const rows = blocksH * blocksW * M * M;
  const frameColumns = P * P;
  const columns = 3 * T * frameColumns;
  const values = new Uint8Array(rows * columns);
  let row = 0;
  for (let by = 0; by < blocksH; by++) {
    for (let bx = 0; bx < blocksW; bx++) {
      for (let my = 0; my < M; my++) {
        for (let mx = 0; mx < M; mx++, row++) {
          const y0 = (by * M + my) * P;
          const x0 = (bx * M + mx) * P;
          for (let c = 0; c < 3; c++) {
            const firstFrame = row * columns + c * T * frameColumns;
            for (let py = 0; py < P; py++) {
              let src = ((y0 + py) * image.width + x0) * 3 + c;
              let dst = firstFrame + py * P;
              for (let px = 0; px < P; px++, src += 3, dst++) values[dst] = image.data[src];
            }
            for (let t = 1; t < T; t++) {
              values.copyWithin(firstFrame + t * frameColumns, firstFrame, firstFrame + frameColumns);
            }
          }
        }
      }
    }
  }
  return { values, rows, columns };
}

/** Maps each patch byte through the channel's normalisation table (channel = column / (T·P·P)). */
export function expandPatches(
  values: Uint8Array,
  table: Float32Array,
  columns: number,
  config: QwenImageConfig = STEP1X_QWEN_IMAGE_CONFIG,
): Float32Array {
  const perChannel = config.temporalPatchSize * config.patchSize * config.patchSize;
  if (columns !== 3 * perChannel)
    throw new QwenInputError('invalid_image', `patch rows have ${columns} columns, expected ${3 * perChannel}`);
  const out = new Float32Array(values.length);
  for (let rowStart = 0; rowStart < values.length; rowStart += columns) {
    for (let channel = 0; channel < 3; channel++) {
      const lookup = channel * 256;
      const start = rowStart + channel * perChannel;
      const end = start + perChannel;
      for (let i = start; i < end; i++) out[i] = table[lookup + values[i]];
    }
  }
  return out;
}
