import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { padStep1xEmbedding, step1xTokenWindow } from './embedding-layout';

describe('step1xTokenWindow', () => {
  it('keeps L − 217 rows up to 640 and flags anything past them', () => {
    assert.deepEqual(step1xTokenWindow(558), { start: 217, validLength: 341, droppedTailTokens: 0, truncated: false });
    assert.deepEqual(step1xTokenWindow(217 + 640), {
      start: 217,
      validLength: 640,
      droppedTailTokens: 0,
      truncated: false,
    });
    assert.deepEqual(step1xTokenWindow(1411), {
      start: 217,
      validLength: 640,
      droppedTailTokens: 554,
      truncated: true,
    });
  });

  it('refuses sequences the drop would empty', () => {
    assert.throws(() => step1xTokenWindow(217));
  });
});

describe('padStep1xEmbedding', () => {
  function hiddenWithRowIds(rows: number, width: number): Float32Array {
    const hidden = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) hidden[r * width + c] = r * 10 + c + 1;
    return hidden;
  }

  it('copies rows 217… into the front and leaves exact zeros behind, mask 1 on kept rows', () => {
    const width = 3;
    const { embs, masks, window } = padStep1xEmbedding(hiddenWithRowIds(230, width), 230, width, 16);
    assert.equal(window.validLength, 13);
    for (let k = 0; k < 16; k++) {
      const row = Array.from(embs.subarray(k * width, (k + 1) * width));
      if (k < 13) assert.deepEqual(row, [(217 + k) * 10 + 1, (217 + k) * 10 + 2, (217 + k) * 10 + 3]);
      else assert.deepEqual(row, [0, 0, 0]);
      assert.equal(masks[k], k < 13 ? 1 : 0);
    }
  });

  it('cuts at the window length when the sequence is longer', () => {
    const { embs, masks, window } = padStep1xEmbedding(hiddenWithRowIds(240, 2), 240, 2, 8);
    assert.equal(window.truncated, true);
    assert.equal(embs[7 * 2], (217 + 7) * 10 + 1);
    assert.ok(masks.every((m) => m === 1));
  });

  it('checks the hidden-state size', () => {
    assert.throws(() => padStep1xEmbedding(new Float32Array(10), 230, 3));
  });
});
