import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Feeds, InferenceSession, TensorData } from '../runtime/inference-session.port';
import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { QwenInputError } from './mllm.errors';
import { encodeMllmBranch, runQwenLlm, runQwenVision } from './mllm.stage';
import { visionPatchPositionIds, visionWindowLayout } from './window-index';

/** Records the feeds and answers with whatever `respond` computes from them. */
class FakeSession implements InferenceSession {
  readonly inputNames: string[] = [];
  readonly outputNames: string[] = [];
  feeds: Feeds | undefined;
  constructor(private readonly respond: (feeds: Feeds) => Record<string, TensorData>) {}
  async run(feeds: Feeds): Promise<Record<string, TensorData>> {
    this.feeds = feeds;
    return this.respond(feeds);
  }
  async release(): Promise<void> {}
}

describe('runQwenVision', () => {
  it('feeds pixels, patch positions and the window layout under the graph names, as int64 where the graph wants it', async () => {
    const grids = [{ t: 1, h: 4, w: 6 }];
    const layout = visionWindowLayout(grids, { windowSize: 28, patchSize: 14, spatialMergeSize: 2 });
    const session = new FakeSession((f) => {
      const tokens = f.window_index.dims[0];
      return { image_embeds: { dims: [tokens, 3], data: new Float32Array(tokens * 3).fill(0.5) } };
    });
    const out = await runQwenVision(session, {
      pixelValues: new Float32Array(24 * 10),
      grids,
      layout,
      patchPositionIds: visionPatchPositionIds(grids),
    });
    const feeds = session.feeds!;
    assert.deepEqual(feeds.pixel_values.dims, [24, 10]);
    assert.deepEqual(feeds.vision_position_ids.dims, [24, 2]);
    assert.ok(feeds.window_index.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(feeds.window_index.data, Number), Array.from(layout.windowIndex));
    assert.deepEqual(Array.from(feeds.cu_window_seqlens.data, Number), Array.from(layout.cuWindowSeqlens));
    assert.deepEqual(Array.from(feeds.cu_seqlens.data, Number), [0, 24]);
    assert.equal(out.tokens, 6);
    assert.equal(out.hidden, 3);
    assert.equal(out.blocksOut, undefined);
  });

  it('refuses pixel values that do not split into the grid rows', async () => {
    const grids = [{ t: 1, h: 2, w: 2 }];
    const session = new FakeSession(() => ({}));
    await assert.rejects(
      runQwenVision(session, {
        pixelValues: new Float32Array(7),
        grids,
        layout: visionWindowLayout(grids),
        patchPositionIds: visionPatchPositionIds(grids),
      }),
      (err: unknown) => err instanceof QwenInputError && err.code === 'invalid_image',
    );
  });
});

describe('runQwenLlm / encodeMllmBranch', () => {
  const pad = QWEN_TOKEN.imagePad;
  /** A fake LLM whose hidden row i is (i, input id): the padded rows show which positions were kept. */
  const echo = () =>
    new FakeSession((f) => {
      const ids = f.input_ids.data as BigInt64Array;
      const hidden = new Float32Array(ids.length * 2);
      ids.forEach((id, i) => {
        hidden[2 * i] = i;
        hidden[2 * i + 1] = Number(id);
      });
      return { last_hidden_state: { dims: [1, ids.length, 2], data: hidden } };
    });

  it('refuses a count of image rows that differs from the <|image_pad|> tokens', async () => {
    const ids = [1, QWEN_TOKEN.visionStart, pad, pad, QWEN_TOKEN.visionEnd];
    await assert.rejects(
      runQwenLlm(echo(), {
        inputIds: ids,
        attentionMask: ids.map(() => 1),
        positionIds: new Array(15).fill(0),
        imageEmbeds: new Float32Array(3 * 2),
        hidden: 2,
      }),
      (err: unknown) => err instanceof QwenInputError && err.code === 'invalid_token_sequence',
    );
  });

  it('drops the first 217 positions, keeps the rest and zero-pads to the window', async () => {
    const length = 230;
    const ids = Array.from({ length }, (_, i) => (i >= 224 && i < 228 ? pad : 100 + i));
    const session = echo();
    const branch = await encodeMllmBranch(
      session,
      {
        inputIds: ids,
        attentionMask: ids.map(() => 1),
        positionIds: new Array(3 * length).fill(0),
        imageEmbeds: new Float32Array(4 * 2),
        hidden: 2,
      },
      20,
    );
    assert.deepEqual(session.feeds!.position_ids.dims, [3, 1, length]);
    assert.deepEqual(session.feeds!.image_embeds.dims, [4, 2]);
    assert.equal(branch.window.validLength, length - 217);
    assert.deepEqual(Array.from(branch.embs.subarray(0, 4)), [217, 100 + 217, 218, 100 + 218]);
    assert.ok(branch.embs.subarray(2 * (length - 217)).every((v) => v === 0));
    assert.deepEqual(Array.from(branch.masks), [...new Array(13).fill(1), ...new Array(7).fill(0)]);
  });
});
