import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot, SafetensorsFile } from '@step1x/tensors';
import { RgbImage } from './image.types';
import { computeAxisCoefficients, resize } from './resample';
import { sizeLevelTarget } from './size-level';
import { makeGoldenSourceImage } from './synthetic-source.testing';

const MLLM_SET = 'step1x-mllm-inputs';

interface GroupJson {
  image_group: string;
  file: string;
  size_level: number;
  source: { width: number; height: number; rgb_sha256: string; stored_in: string | null };
  'qwen_vl_utils.fetch_image': { width: number; height: number; rgb_sha256: string };
  image_processor: { vit_width: number; vit_height: number; vit_rgb_sha256: string };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function readImage(file: SafetensorsFile, name: string): RgbImage {
  const [height, width, channels] = file.info(name).shape;
  assert.equal(channels, 3, `${name} is not RGB`);
  return { width, height, data: file.readBytes(name) };
}

function firstDifference(ours: RgbImage, ref: RgbImage): string {
  for (let i = 0; i < ref.data.length; i++) {
    if (ours.data[i] !== ref.data[i]) {
      const pixel = Math.floor(i / 3);
      return `first difference at x=${pixel % ref.width} y=${Math.floor(pixel / ref.width)} c=${i % 3}: ${ours.data[i]} vs ${ref.data[i]}`;
    }
  }
  return 'identical';
}

function assertSameImage(ours: RgbImage, ref: RgbImage, what: string): void {
  assert.deepEqual([ours.width, ours.height], [ref.width, ref.height], `${what}: size`);
  assert.ok(Buffer.from(ours.data).equals(Buffer.from(ref.data)), `${what}: ${firstDifference(ours, ref)}`);
}

/** The group's source image: stored in its own file, stored in another group's file, or rebuilt from the recipe. */
function loadSource(dir: string, group: GroupJson, file: SafetensorsFile): RgbImage {
  let source: RgbImage;
  const pointer = group.source.stored_in?.match(/^(\S+\.safetensors):(\w+)/);
  if (file.has('source_image')) {
    source = readImage(file, 'source_image');
  } else if (pointer) {
    const other = SafetensorsFile.open(join(dir, pointer[1]));
    try {
      source = readImage(other, pointer[2]);
    } finally {
      other.close();
    }
  } else {
    source = makeGoldenSourceImage(group.source.width, group.source.height);
  }
  assert.deepEqual([source.width, source.height], [group.source.width, group.source.height]);
  assert.equal(sha256(source.data), group.source.rgb_sha256, `${group.image_group}: source bytes`);
  return source;
}

describe('resize (Pillow-compatible) against the step1x-mllm-inputs goldens', () => {
  const dir = join(goldenRoot(), MLLM_SET);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    image_groups: Record<string, { file: string; json: string }>;
  };
  const groups = Object.entries(manifest.image_groups);

  it('lists image groups', () => assert.ok(groups.length > 0));

  for (const [name, entry] of groups) {
    it(`${name}: ref_image, ref_image_v10, fetched_image and vit_image are bit-exact`, () => {
      const group = JSON.parse(readFileSync(join(dir, entry.json), 'utf8')) as GroupJson;
      const file = SafetensorsFile.open(join(dir, entry.file));
      try {
        const source = loadSource(dir, group, file);
        const refStored = readImage(file, 'ref_image');
        const target = sizeLevelTarget(source, group.size_level);
        assert.deepEqual([target.width, target.height], [refStored.width, refStored.height], 'size_level target');

        const ref = resize(source, refStored.width, refStored.height, 'lanczos');
        assertSameImage(ref, refStored, 'ref_image (LANCZOS)');

        if (file.has('ref_image_v10')) {
          const v10Stored = readImage(file, 'ref_image_v10');
          assertSameImage(resize(source, v10Stored.width, v10Stored.height, 'bicubic'), v10Stored, 'ref_image_v10');
        }

        const fetchInfo = group['qwen_vl_utils.fetch_image'];
        const fetched = resize(ref, fetchInfo.width, fetchInfo.height, 'bicubic');
        if (file.has('fetched_image')) assertSameImage(fetched, readImage(file, 'fetched_image'), 'fetched_image');
        assert.equal(sha256(fetched.data), fetchInfo.rgb_sha256, 'fetched_image sha256');

        const vitStored = readImage(file, 'vit_image');
        const vit = resize(fetched, vitStored.width, vitStored.height, 'bicubic');
        assertSameImage(vit, vitStored, 'vit_image');
        assert.equal(sha256(vit.data), group.image_processor.vit_rgb_sha256, 'vit_image sha256');
      } finally {
        file.close();
      }
    });
  }
});

describe('resize behaviour', () => {
  const image: RgbImage = makeGoldenSourceImage(37, 23);

  it('returns an identical copy for a same-size resize', () => {
    const out = resize(image, 37, 23, 'lanczos');
    assert.notEqual(out.data, image.data);
    assert.deepEqual(out.data, image.data);
  });

  it('keeps a constant image constant for both filters, up and down', () => {
    const flat: RgbImage = { width: 19, height: 11, data: new Uint8Array(19 * 11 * 3).fill(173) };
    for (const filter of ['bicubic', 'lanczos'] as const) {
      for (const [w, h] of [
        [7, 5],
        [40, 31],
        [19, 3],
      ]) {
        const out = resize(flat, w, h, filter);
        assert.equal(out.data.length, w * h * 3);
        assert.ok(
          out.data.every((v) => v === 173),
          `${filter} ${w}x${h}`,
        );
      }
    }
  });

  it('treats rows independently when only the width changes', () => {
    const horizontal = resize(image, 50, 23, 'bicubic');
    // Rows are independent in a horizontal-only resize: row 4 of the output depends only on row 4 of the input.
    const rowOnly: RgbImage = { width: 37, height: 1, data: image.data.slice(4 * 37 * 3, 5 * 37 * 3) };
    assert.deepEqual(resize(rowOnly, 50, 1, 'bicubic').data, horizontal.data.slice(4 * 50 * 3, 5 * 50 * 3));
  });

  it('uses fixed-point weights that sum to about 1 << 22 per output', () => {
    for (const [inSize, outSize] of [
      [1024, 592],
      [100, 333],
      [1920, 672],
    ]) {
      const c = computeAxisCoefficients(inSize, outSize, 'lanczos');
      for (let o = 0; o < outSize; o++) {
        let sum = 0;
        for (let i = 0; i < c.count[o]; i++) sum += c.weights[o * c.taps + i];
        assert.ok(Math.abs(sum - (1 << 22)) <= c.count[o], `sum ${sum} at ${o}`);
      }
    }
  });

  it('rejects bad sizes and buffers', () => {
    assert.throws(() => resize(image, 0, 10, 'bicubic'), RangeError);
    assert.throws(() => resize(image, 10.5, 10, 'bicubic'), RangeError);
    assert.throws(() => resize({ width: 2, height: 2, data: new Uint8Array(5) }, 4, 4, 'bicubic'), RangeError);
  });
});
