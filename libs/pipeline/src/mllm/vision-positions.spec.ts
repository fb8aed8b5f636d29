import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, goldenRoot } from '@step1x/tensors';
import { GridThw, visionPatchPositionIds, visionWindowLayout } from './window-index';
import { MASKED_TOKEN_POSITION, mropePositionIds } from './mrope-position-ids';
import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';

/** Exact checks against transformers' own window index and get_rope_index (golden/qwen25vl-tiny). */

const TINY_SET = 'qwen25vl-tiny';

interface TinyManifest {
  format: string;
  cases: Record<string, { file: string }>;
}

function tinyDir(): string {
  return join(goldenRoot(), TINY_SET);
}

function withFile<T>(name: string, read: (file: SafetensorsFile) => T): T {
  const file = SafetensorsFile.open(join(tinyDir(), name));
  try {
    return read(file);
  } finally {
    file.close();
  }
}

function gridOf(file: SafetensorsFile): GridThw {
  const [t, h, w] = file.readIntegers('image_grid_thw');
  return { t, h, w };
}

function imageFiles(): string[] {
  const manifest = JSON.parse(readFileSync(join(tinyDir(), 'manifest.json'), 'utf8')) as {
    files: Record<string, string>;
  };
  return Object.keys(manifest.files).filter((f) => f.startsWith('image_') && f.endsWith('.safetensors'));
}

describe('vision window index against qwen25vl-tiny', () => {
  const files = imageFiles();

  it('has image groups to check', () => assert.ok(files.length >= 3, `found ${files.length}`));

  for (const name of files) {
    it(`${name}: window_index, cu_window_seqlens, cu_seqlens, vision_position_ids`, () => {
      withFile(name, (file) => {
        const grid = gridOf(file);
        const layout = visionWindowLayout([grid]);
        assert.deepEqual(Array.from(layout.windowIndex), file.readIntegers('window_index'));
        assert.deepEqual(Array.from(layout.cuWindowSeqlens), file.readIntegers('cu_window_seqlens'));
        assert.deepEqual(Array.from(layout.cuSeqlens), file.readIntegers('cu_seqlens'));
        assert.deepEqual(Array.from(visionPatchPositionIds([grid])), file.readIntegers('vision_position_ids'));
      });
    });
  }

  it('gives full windows of 64 patches and partial ones at the right and bottom edges', () => {
    const layout = visionWindowLayout([{ t: 1, h: 10, w: 12 }]); // merged 5×6: windows 4×4, 4×2, 1×4, 1×2
    assert.deepEqual(Array.from(layout.cuWindowSeqlens), [0, 64, 96, 112, 120]);
    assert.deepEqual(Array.from(layout.windowIndex.slice(0, 5)), [0, 1, 2, 3, 6]);
    assert.equal(new Set(layout.windowIndex).size, 30);
  });
});

describe('M-RoPE position ids against qwen25vl-tiny', () => {
  const manifest = JSON.parse(readFileSync(join(tinyDir(), 'manifest.json'), 'utf8')) as TinyManifest;

  it('is the qwen25vl-tiny/1 format with cases', () => {
    assert.equal(manifest.format, 'qwen25vl-tiny/1');
    assert.ok(Object.keys(manifest.cases).length >= 4);
  });

  for (const [caseName, entry] of Object.entries(manifest.cases)) {
    it(`${caseName}: position_ids and rope_deltas`, () => {
      withFile(entry.file, (file) => {
        const ids = file.readIntegers('input_ids');
        const mask = file.readIntegers('attention_mask');
        const ours = mropePositionIds(ids, mask, [gridOf(file)]);
        assert.deepEqual(Array.from(ours.positionIds), file.readIntegers('position_ids'));
        assert.equal(ours.ropeDelta, file.readIntegers('rope_deltas')[0]);
      });
    });
  }
});

describe('mropePositionIds rules', () => {
  const { visionStart, imagePad, visionEnd } = QWEN_TOKEN;

  it('advances text by one, puts the image on its merged grid and resumes at p + max(gh, gw)', () => {
    const ids = [5, 6, visionStart, imagePad, imagePad, imagePad, imagePad, imagePad, imagePad, visionEnd, 7];
    const { positionIds, ropeDelta } = mropePositionIds(
      ids,
      ids.map(() => 1),
      [{ t: 1, h: 4, w: 6 }],
    );
    const L = ids.length;
    const rows = [0, 1, 2].map((r) => Array.from(positionIds.subarray(r * L, (r + 1) * L)));
    assert.deepEqual(rows[0], [0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7]);
    assert.deepEqual(rows[1], [0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7]);
    assert.deepEqual(rows[2], [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7]);
    assert.equal(ropeDelta, 8 - L);
  });

  it('skips masked tokens in the count and gives them position 1 on every axis', () => {
    const ids = [5, 0, 6, 7];
    const { positionIds } = mropePositionIds(ids, [1, 0, 1, 1], []);
    assert.deepEqual(
      Array.from(positionIds),
      [0, 1, 1, 2, 0, 1, 1, 2, 0, 1, 1, 2].map((p, i) => (i % 4 === 1 ? MASKED_TOKEN_POSITION : p)),
    );
  });

  it('refuses an image block whose token count does not match its grid', () => {
    const ids = [visionStart, imagePad, imagePad, visionEnd];
    assert.throws(() => mropePositionIds(ids, [1, 1, 1, 1], [{ t: 1, h: 4, w: 4 }]));
    assert.throws(() => mropePositionIds(ids, [1, 1, 1, 1], []));
  });
});
