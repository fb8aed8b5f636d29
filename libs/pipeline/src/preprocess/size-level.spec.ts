import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imageTokenCount, sizeLevelTarget, SizeLevelError } from './size-level';

describe('sizeLevelTarget (official input_process_image)', () => {
  // docs/MODEL.md §2 worked examples: source (w×h), size_level → DiT W×H and N tokens.
  const table: [number, number, number, number, number, number][] = [
    [1024, 1024, 512, 512, 512, 1024],
    [333, 333, 768, 768, 768, 2304],
    [4000, 4000, 1024, 1024, 1024, 4096],
    [1024, 768, 512, 592, 432, 999],
    [1024, 768, 768, 880, 656, 2255],
    [1024, 768, 1024, 1168, 880, 4015],
    [1920, 1080, 512, 672, 384, 1008],
    [1920, 1080, 768, 1024, 576, 2304],
    [1920, 1080, 1024, 1360, 768, 4080],
  ];
  for (const [w, h, level, width, height, tokens] of table) {
    it(`${w}x${h} at ${level} → ${width}x${height}, ${tokens} tokens`, () => {
      const target = sizeLevelTarget({ width: w, height: h }, level);
      assert.deepEqual(target, { width, height });
      assert.equal(imageTokenCount(target), tokens);
    });
  }

  it('takes the height-first branch for portrait and square sources', () => {
    // r = 0.75: h = ceil(sqrt(512²/0.75)) = 592, w = ceil(592·0.75) = 444 → floored to 432.
    assert.deepEqual(sizeLevelTarget({ width: 768, height: 1024 }, 512), { width: 432, height: 592 });
  });

  it('always returns multiples of 16 with about size_level² area', () => {
    for (const [w, h] of [
      [1, 100],
      [3000, 2000],
      [1234, 567],
      [100, 1],
    ]) {
      const t = sizeLevelTarget({ width: w, height: h }, 512);
      assert.equal(t.width % 16, 0);
      assert.equal(t.height % 16, 0);
      assert.ok(
        t.width * t.height <= 512 * 512 * 1.1 && t.width * t.height >= 512 * 512 * 0.8,
        `${w}x${h} → ${t.width}x${t.height}`,
      );
    }
  });

  it('refuses shapes so elongated that a side floors to 0', () => {
    assert.throws(() => sizeLevelTarget({ width: 100_000, height: 1 }, 512), SizeLevelError);
    assert.throws(() => sizeLevelTarget({ width: 0, height: 10 }, 512), RangeError);
  });
});
