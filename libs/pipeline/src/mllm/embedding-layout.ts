/**
 * The conditioner's post-processing of the Qwen hidden states (docs/MODEL.md §13): drop the first 217 positions (the
 * 14-token chat header and PREFIX up to its final `:`), keep at most 640, right-pad with zeros, mask 1 on kept rows.
 */
export const STEP1X_DROPPED_TOKENS = 217;
export const STEP1X_MAX_TOKENS = 640;

export interface TokenWindow {
  /** First kept position of the network's sequence. */
  readonly start: number;
  /** Rows filled in `embs` and set in `masks`: `min(640, L − 217)`. */
  readonly validLength: number;
  /** Positions past the window that the conditioner throws away (the instruction's end, then the chat suffix). */
  readonly droppedTailTokens: number;
  /** True when the 640-row window cut anything (docs/MODEL.md §10 reports it as `input.truncated`). */
  readonly truncated: boolean;
}

export function step1xTokenWindow(sequenceLength: number, maxTokens = STEP1X_MAX_TOKENS): TokenWindow {
  if (sequenceLength <= STEP1X_DROPPED_TOKENS) {
    throw new Error(
      `a sequence of ${sequenceLength} tokens is too short: the conditioner drops ${STEP1X_DROPPED_TOKENS}`,
    );
  }
  const available = sequenceLength - STEP1X_DROPPED_TOKENS;
  const validLength = Math.min(maxTokens, available);
  return {
    start: STEP1X_DROPPED_TOKENS,
    validLength,
    droppedTailTokens: available - validLength,
    truncated: available > maxTokens,
  };
}

export interface PaddedEmbedding {
  /** `[maxTokens, hiddenSize]` row-major float32; rows at and past `validLength` are exactly 0. */
  readonly embs: Float32Array;
  /** `[maxTokens]`: 1 for the first `validLength` rows, else 0. */
  readonly masks: Uint8Array;
  readonly window: TokenWindow;
}

/** Applies the drop/keep/pad rule to one branch's final hidden states `[sequenceLength, hiddenSize]`. */
export function padStep1xEmbedding(
  hidden: Float32Array,
  sequenceLength: number,
  hiddenSize: number,
  maxTokens = STEP1X_MAX_TOKENS,
): PaddedEmbedding {
  if (hidden.length !== sequenceLength * hiddenSize) {
    throw new Error(`hidden states hold ${hidden.length} values, expected ${sequenceLength}×${hiddenSize}`);
  }
  const window = step1xTokenWindow(sequenceLength, maxTokens);
  const embs = new Float32Array(maxTokens * hiddenSize);
  embs.set(hidden.subarray(window.start * hiddenSize, (window.start + window.validLength) * hiddenSize));
  const masks = new Uint8Array(maxTokens);
  masks.fill(1, 0, window.validLength);
  return { embs, masks, window };
}
