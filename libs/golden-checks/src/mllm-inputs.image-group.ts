import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  PreparedQwenImage,
  QwenImageConfig,
  RgbImage,
  patchifyImage,
  pixelNormalisationTable,
  prepareQwenImage,
  resize,
  sizeLevelTarget,
} from '@step1x/pipeline';
import { SafetensorsFile } from '@step1x/tensors';
import { CaseChecker } from './tensor-check';

/**
 * One image group of a `step1x-mllm-inputs/1` set: the size_level resize from the source (when a source is stored),
 * then, from the stored `ref_image`, fetch_image + processor resize, patchify and the LUT-expanded pixel values.
 */

interface ImageRecord {
  width: number;
  height: number;
  rgb_sha256: string;
  stored_as?: string | null;
}

export interface ImageGroupJson {
  image_group: string;
  file: string;
  size_level: number;
  source: { width: number; height: number; rgb_sha256: string; stored_in?: string | null };
  input_process_image: Record<string, unknown>;
  'qwen_vl_utils.fetch_image': ImageRecord;
  image_processor: {
    vit_width: number;
    vit_height: number;
    vit_rgb_sha256: string;
    image_grid_thw: number[];
    n_image_tokens: number;
    pixel_values_shape: number[];
    pixel_values_sha256: string;
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readRgbImage(file: SafetensorsFile, name: string): RgbImage {
  const info = file.info(name);
  if (info.dtype !== 'U8' || info.shape.length !== 3 || info.shape[2] !== 3) {
    throw new Error(`${name} should be U8 [H, W, 3], is ${info.dtype} [${info.shape.join(', ')}]`);
  }
  return { height: info.shape[0], width: info.shape[1], data: file.readBytes(name) };
}

function compareImage(check: CaseChecker, name: string, ours: RgbImage, record: ImageRecord, stored?: RgbImage): void {
  if (ours.width !== record.width || ours.height !== record.height) {
    check.fail(name, `size ${ours.width}x${ours.height}, reference ${record.width}x${record.height}`);
    return;
  }
  if (stored) check.exact(name, ours.data, stored.data);
  const digest = sha256(ours.data);
  if (digest !== record.rgb_sha256) check.fail(`${name} sha256`, `${digest} vs ${record.rgb_sha256}`);
}

/** The stored source image: `source_image` in this file, or the tensor `source.stored_in` names (`file:tensor`). */
function findSource(dir: string, file: SafetensorsFile, json: ImageGroupJson): RgbImage | undefined {
  if (file.has('source_image')) return readRgbImage(file, 'source_image');
  const where = json.source.stored_in?.split(' ')[0];
  if (!where || !where.includes(':')) return undefined;
  const [otherFile, tensor] = where.split(':');
  const path = join(dir, otherFile);
  if (!existsSync(path)) return undefined;
  const other = SafetensorsFile.open(path);
  try {
    return other.has(tensor) ? readRgbImage(other, tensor) : undefined;
  } finally {
    other.close();
  }
}

function findRecord(json: ImageGroupJson, prefix: string): ImageRecord | undefined {
  const key = Object.keys(json.input_process_image).find((k) => k.startsWith(prefix));
  return key ? (json.input_process_image[key] as ImageRecord) : undefined;
}

function checkReferenceResize(
  dir: string,
  file: SafetensorsFile,
  json: ImageGroupJson,
  ref: RgbImage,
  check: CaseChecker,
): void {
  const source = findSource(dir, file, json);
  if (!source) {
    check.note(`ref_image: no stored source image, started from the stored ref_image`);
    return;
  }
  if (sha256(source.data) !== json.source.rgb_sha256)
    check.fail('source_image', 'bytes do not match source.rgb_sha256');
  const target = sizeLevelTarget(source, json.size_level);
  const v11 = findRecord(json, 'v1.1');
  if (v11) compareImage(check, 'ref_image', resize(source, target.width, target.height, 'lanczos'), v11, ref);
  const v10 = findRecord(json, 'v1.0');
  if (v10) {
    const stored = file.has('ref_image_v10') ? readRgbImage(file, 'ref_image_v10') : undefined;
    compareImage(check, 'ref_image_v10', resize(source, target.width, target.height, 'bicubic'), v10, stored);
  }
}

function checkPixelValues(
  file: SafetensorsFile,
  json: ImageGroupJson,
  ours: PreparedQwenImage,
  config: QwenImageConfig,
  check: CaseChecker,
): void {
  const patches = patchifyImage(ours.vit, config);
  check.exact('pixel_values_u8', patches.values, file.readBytes('pixel_values_u8'));
  const goldenLut = file.readFloat32('pixel_lut');
  check.exact('pixel_lut (f32 bits)', bitsOf(pixelNormalisationTable(config)), bitsOf(goldenLut));
  // The reference pixel_values, rebuilt from the stored bytes and the stored LUT as the set's README defines them.
  const goldenU8 = file.readBytes('pixel_values_u8');
  const [rows, columns] = file.info('pixel_values_u8').shape;
  const perChannel = columns / 3;
  const reference = new Float32Array(rows * columns);
  for (let i = 0; i < reference.length; i++) {
    reference[i] = goldenLut[Math.floor((i % columns) / perChannel) * 256 + goldenU8[i]];
  }
  check.exact('pixel_values (f32 bits)', bitsOf(ours.pixelValues), bitsOf(reference));
  check.exact('pixel_values shape', ours.pixelValuesShape, json.image_processor.pixel_values_shape);
  const digest = sha256(
    new Uint8Array(ours.pixelValues.buffer, ours.pixelValues.byteOffset, ours.pixelValues.byteLength),
  );
  if (digest !== json.image_processor.pixel_values_sha256) check.fail('pixel_values sha256', `${digest} vs reference`);
}

export function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

export interface CheckedImageGroup {
  readonly prepared: PreparedQwenImage;
}

/** Runs every image check of one group; returns our prepared image for the cases of the group. */
export function checkImageGroup(
  dir: string,
  file: SafetensorsFile,
  json: ImageGroupJson,
  config: QwenImageConfig,
  check: CaseChecker,
): CheckedImageGroup {
  const ref = readRgbImage(file, 'ref_image');
  checkReferenceResize(dir, file, json, ref, check);
  const prepared = prepareQwenImage(ref, config);
  const fetchedStored = file.has('fetched_image') ? readRgbImage(file, 'fetched_image') : undefined;
  compareImage(check, 'fetched_image', prepared.fetched, json['qwen_vl_utils.fetch_image'], fetchedStored);
  const processor = json.image_processor;
  compareImage(
    check,
    'vit_image',
    prepared.vit,
    { width: processor.vit_width, height: processor.vit_height, rgb_sha256: processor.vit_rgb_sha256 },
    readRgbImage(file, 'vit_image'),
  );
  const grid = [prepared.grid.t, prepared.grid.h, prepared.grid.w];
  check.exact('image_grid_thw', grid, file.readIntegers('image_grid_thw'));
  check.exact('image_grid_thw (json)', grid, processor.image_grid_thw);
  check.exact('n_image_tokens', [prepared.numImageTokens], [processor.n_image_tokens]);
  checkPixelValues(file, json, prepared, config, check);
  return { prepared };
}
