import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SafetensorsFile, goldenRoot } from '@step1x/tensors';
import { RgbImage } from '../preprocess/image.types';
import {
  STEP1X_QWEN_IMAGE_CONFIG,
  patchifyImage,
  pixelNormalisationTable,
  prepareQwenImage,
  qwenImageConfigFromPreprocessor,
  roundHalfEven,
  smartResize,
} from './qwen-image';
import { QwenInputError } from './mllm.errors';

const FETCH = { factor: 28, minPixels: 3136, maxPixels: 12845056, clampShrinkToFactor: false };
const PROCESSOR = { factor: 28, minPixels: 200704, maxPixels: 254016, clampShrinkToFactor: true };

function both(width: number, height: number): string {
  const fetched = smartResize(height, width, FETCH);
  const vit = smartResize(fetched.height, fetched.width, PROCESSOR);
  return `${fetched.width}x${fetched.height} -> ${vit.width}x${vit.height}`;
}

function gradientImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      data[p] = x % 256;
      data[p + 1] = y % 256;
      data[p + 2] = (x * 7 + y * 3) % 256;
    }
  }
  return { width, height, data };
}

describe('smartResize (docs/MODEL.md §14)', () => {
  it("rounds half to even like Python's round", () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 0, 2, 3]);
  });

  it('gives the official sizes (docs/MODEL.md §14) for the DiT sizes of the golden groups', () => {
    assert.equal(both(512, 512), '504x504 -> 504x504');
    assert.equal(both(592, 432), '588x420 -> 588x420');
    assert.equal(both(672, 384), '672x392 -> 644x364');
    assert.equal(both(1168, 880), '1176x868 -> 560x420');
    assert.equal(both(1024, 1024), '1036x1036 -> 504x504');
  });

  it('keeps the processor between 256 and 324 merged tokens for ordinary aspect ratios', () => {
    for (const [w, h] of [
      [512, 512],
      [1360, 768],
      [768, 1360],
      [880, 656],
      [2048, 512],
    ]) {
      const fetched = smartResize(h, w, FETCH);
      const vit = smartResize(fetched.height, fetched.width, PROCESSOR);
      const tokens = (vit.width / 28) * (vit.height / 28);
      assert.ok(tokens >= 256 && tokens <= 324, `${w}x${h}: ${tokens} tokens`);
    }
  });

  it('refuses aspect ratios over 200 as the Python code does', () => {
    assert.throws(
      () => smartResize(10, 2010, FETCH),
      (err: unknown) => err instanceof QwenInputError && err.code === 'unsupported_aspect_ratio',
    );
  });
});

describe('patchify and normalisation', () => {
  it('orders rows by merge block then sub-patch, each row (channel, frame, py, px)', () => {
    const image = gradientImage(56, 84);
    const { values, rows, columns } = patchifyImage(image);
    assert.equal(rows, (84 / 14) * (56 / 14));
    assert.equal(columns, 1176);
    const blocksW = 56 / 28;
    for (const [row, column] of [
      [0, 0],
      [1, 5],
      [2, 400],
      [3, 1175],
      [5, 590],
      [13, 200],
      [23, 1000],
    ]) {
      const block = Math.floor(row / 4);
      const [by, bx] = [Math.floor(block / blocksW), block % blocksW];
      const [my, mx] = [Math.floor((row % 4) / 2), row % 2];
      const channel = Math.floor(column / 392);
      const [py, px] = [Math.floor((column % 196) / 14), column % 14];
      const y = (by * 2 + my) * 14 + py;
      const x = (bx * 2 + mx) * 14 + px;
      assert.equal(
        values[row * columns + column],
        image.data[(y * 56 + x) * 3 + channel],
        `row ${row} column ${column}`,
      );
    }
    for (let c = 0; c < 196; c++) assert.equal(values[392 + c], values[392 + 196 + c], 'both frames hold the image');
  });

  it('matches the golden pixel_lut bit for bit', () => {
    const file = SafetensorsFile.open(join(goldenRoot(), 'step1x-mllm-inputs', 'image_sq512_s512.safetensors'));
    try {
      const golden = file.readFloat32('pixel_lut');
      const ours = pixelNormalisationTable();
      assert.deepEqual(new Uint32Array(ours.buffer), new Uint32Array(golden.buffer, golden.byteOffset, golden.length));
    } finally {
      file.close();
    }
  });

  it('prepares the image: grid, token count and pixel values from the table', () => {
    const prepared = prepareQwenImage(gradientImage(592, 432));
    assert.deepEqual(prepared.grid, { t: 1, h: 30, w: 42 });
    assert.equal(prepared.numImageTokens, 315);
    assert.deepEqual(prepared.pixelValuesShape, [1260, 1176]);
    const table = pixelNormalisationTable();
    const bytes = patchifyImage(prepared.vit).values;
    for (const i of [0, 391, 392, 800, 1175, 500_000]) {
      assert.equal(prepared.pixelValues[i], table[Math.floor((i % 1176) / 392) * 256 + bytes[i]]);
    }
  });

  it('reads patch sizes and mean/std from preprocessor_config.json, keeping the Step1X pixel range', () => {
    const config = qwenImageConfigFromPreprocessor({ patch_size: 14, image_mean: [0.5, 0.5, 0.5], min_pixels: 3136 });
    assert.deepEqual(config.imageMean, [0.5, 0.5, 0.5]);
    assert.equal(config.minPixels, STEP1X_QWEN_IMAGE_CONFIG.minPixels);
    assert.throws(() => qwenImageConfigFromPreprocessor({ patch_size: 0 }));
  });
});
