import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageToVaeInput } from '../preprocess/vae-input';
import { vaeOutputToImage } from './vae-output';

describe('VAE pixel conversions', () => {
  it('maps every 8-bit value through [−1, 1] and back to itself or one below (truncation, as the official code)', () => {
    const width = 256;
    const data = new Uint8Array(width * 3);
    for (let i = 0; i < width; i++) data.set([i, 255 - i, (i * 7) % 256], i * 3);
    const back = vaeOutputToImage(imageToVaeInput({ width, height: 1, data }), 1, width);
    for (let i = 0; i < data.length; i++) {
      assert.ok(
        back.data[i] === data[i] || back.data[i] === data[i] - 1,
        `value ${data[i]} came back as ${back.data[i]}`,
      );
    }
    assert.equal(back.data[3 * 255], 255, 'the top value survives');
  });

  it('lays the input out channel-first with the official float32 arithmetic for every byte', () => {
    const f32 = Math.fround;
    const width = 256;
    const data = new Uint8Array(width * 3);
    for (let i = 0; i < width; i++) data.set([i, 255 - i, (i * 7) % 256], i * 3);
    const input = imageToVaeInput({ width, height: 1, data });
    for (let p = 0; p < width; p++) {
      for (let c = 0; c < 3; c++) {
        const expected = f32(f32(f32(data[p * 3 + c] / 255) * 2) - 1);
        assert.ok(Object.is(input[c * width + p], expected), `pixel ${p} channel ${c}`);
      }
    }
  });

  it('clamps out-of-range values and truncates rather than rounds', () => {
    const img = vaeOutputToImage(Float32Array.of(-3, 5, 0.999, 0, 0, 0, 0, 0, 0), 1, 3);
    // R plane: −3 → 0, 5 → 255, 0.999 → 254.87 → 254 (rounding would give 255).
    assert.deepEqual([img.data[0], img.data[3], img.data[6]], [0, 255, 254]);
    assert.deepEqual([img.data[1], img.data[4]], [127, 127]);
  });
});
