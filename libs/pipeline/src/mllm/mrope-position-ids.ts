import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { QwenInputError } from './mllm.errors';
import { GridThw } from './window-index';

export interface MropePositions {
  /** `[3, L]` row-major: the t row, then h, then w. */
  readonly positionIds: Int32Array;
  readonly sequenceLength: number;
  /**
   * `max(position) + 1 − (number of unmasked tokens)`, as the qwen25vl-tiny goldens store it. Only generation
   * would use it; the prefill does not.
   */
  readonly ropeDelta: number;
}

/** Position every masked token keeps on all three axes (transformers 4.49/4.51 start from `torch.ones`). */
export const MASKED_TOKEN_POSITION = 1;

/**
 * M-RoPE position ids of one sequence, after `get_rope_index` of the transformers releases the official code pins
 * (docs/MODEL.md §8): masked tokens are skipped in the count and keep position 1; text advances t = h = w by one; an
 * image of merged size gh×gw starting at p gets (p, p + row, p + col) (images have no time offset in Qwen2.5-VL);
 * the text after it resumes at p + max(gh, gw).
 */
export function mropePositionIds(
  inputIds: ArrayLike<number>,
  attentionMask: ArrayLike<number>,
  imageGrids: readonly GridThw[],
  spatialMergeSize = 2,
): MropePositions {
  const length = inputIds.length;
  if (attentionMask.length !== length) {
    throw new QwenInputError(
      'invalid_token_sequence',
      `attention mask has ${attentionMask.length} entries for ${length} ids`,
    );
  }
  const positionIds = new Int32Array(3 * length).fill(MASKED_TOKEN_POSITION);
  const kept: number[] = [];
  for (let i = 0; i < length; i++) if (attentionMask[i] === 1) kept.push(i);

  let next = 0; // first position of the next text run
  let cursor = 0; // index into `kept`
  const place = (keptIndex: number, t: number, h: number, w: number) => {
    const at = kept[keptIndex];
    positionIds[at] = t;
    positionIds[length + at] = h;
    positionIds[2 * length + at] = w;
  };
  const placeText = (until: number) => {
    for (; cursor < until; cursor++, next++) place(cursor, next, next, next);
  };

  let imageNumber = 0;
  for (;;) {
    const imageStart = findImageBlock(inputIds, kept, cursor);
    if (imageStart < 0) break;
    const grid = imageGrids[imageNumber];
    if (!grid) throw new QwenInputError('invalid_token_sequence', `image block ${imageNumber + 1} has no grid_thw`);
    placeText(imageStart);
    const gh = grid.h / spatialMergeSize;
    const gw = grid.w / spatialMergeSize;
    const tokens = grid.t * gh * gw;
    for (let k = 0; k < tokens; k++) {
      if (inputIds[kept[cursor + k]] !== QWEN_TOKEN.imagePad) {
        throw new QwenInputError(
          'invalid_token_sequence',
          `image ${imageNumber + 1} needs ${tokens} image tokens in a row`,
        );
      }
      const within = k % (gh * gw);
      place(cursor + k, next, next + Math.floor(within / gw), next + (within % gw));
    }
    cursor += tokens;
    next += Math.max(gh, gw, 1);
    imageNumber++;
  }
  if (imageNumber !== imageGrids.length) {
    throw new QwenInputError('invalid_token_sequence', `${imageGrids.length} grids for ${imageNumber} image blocks`);
  }
  placeText(kept.length);
  return { positionIds, sequenceLength: length, ropeDelta: next - kept.length };
}

/** Index into `kept` of the first image token of the next `<|vision_start|><|image_pad|>` block at or after `from`. */
function findImageBlock(inputIds: ArrayLike<number>, kept: readonly number[], from: number): number {
  for (let k = from; k + 1 < kept.length; k++) {
    if (inputIds[kept[k]] === QWEN_TOKEN.visionStart && inputIds[kept[k + 1]] === QWEN_TOKEN.imagePad) return k + 1;
  }
  return -1;
}
