import { InferenceSession, TensorData, asFloat32, float32, int64 } from '../runtime/inference-session.port';
import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { PaddedEmbedding, STEP1X_MAX_TOKENS, padStep1xEmbedding } from './embedding-layout';
import { QwenInputError } from './mllm.errors';
import { GridThw, VisionWindowLayout } from './window-index';

/**
 * The Qwen2.5-VL network stage: the vision tower (`qwen_vision.onnx`), then the language-model prefill
 * (`qwen_llm.onnx`) once per CFG branch, then Step1X's 217-drop / 640-pad (docs/MODEL.md §13). Graph I/O as written by
 * model-builder's `buildQwenVisionGraph` / `buildQwenLlmGraph`.
 */

export interface QwenVisionInput {
  /** `pixel_values` `[P, features]` row-major, rows in the processor's merge-block-major order. */
  readonly pixelValues: Float32Array;
  /** One grid per image; P = Σ t·h·w. */
  readonly grids: readonly GridThw[];
  /** `visionWindowLayout(grids)`: window permutation and boundaries. */
  readonly layout: VisionWindowLayout;
  /** `visionPatchPositionIds(grids)`: `[P, 2]` (h, w) per pixel row. */
  readonly patchPositionIds: Int32Array | BigInt64Array;
}

export interface QwenVisionOutput {
  /** `[tokens, hidden]` in token order: one row per `<|image_pad|>` token. */
  readonly imageEmbeds: Float32Array;
  readonly tokens: number;
  readonly hidden: number;
  /** The last vision block's output `[P, vision hidden]` in window order, when the graph was built with debug outputs. */
  readonly blocksOut?: Float32Array;
}

function ints(values: ArrayLike<number> | BigInt64Array): BigInt64Array {
  return values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
}

export async function runQwenVision(session: InferenceSession, input: QwenVisionInput): Promise<QwenVisionOutput> {
  const rows = input.grids.reduce((n, g) => n + g.t * g.h * g.w, 0);
  if (rows === 0 || input.pixelValues.length % rows !== 0) {
    throw new QwenInputError(
      'invalid_image',
      `${input.pixelValues.length} pixel values do not split into ${rows} patch rows`,
    );
  }
  if (input.patchPositionIds.length !== 2 * rows) {
    throw new QwenInputError(
      'invalid_image',
      `${input.patchPositionIds.length / 2} patch positions for ${rows} patch rows`,
    );
  }
  const { windowIndex, cuWindowSeqlens, cuSeqlens } = input.layout;
  const out = await session.run({
    pixel_values: float32([rows, input.pixelValues.length / rows], input.pixelValues),
    vision_position_ids: int64([rows, 2], ints(input.patchPositionIds)),
    window_index: int64([windowIndex.length], windowIndex),
    cu_window_seqlens: int64([cuWindowSeqlens.length], cuWindowSeqlens),
    cu_seqlens: int64([cuSeqlens.length], cuSeqlens),
  });
  const embeds = out.image_embeds;
  return {
    imageEmbeds: asFloat32(embeds, 'image_embeds'),
    tokens: embeds.dims[0],
    hidden: embeds.dims[1],
    blocksOut: out.vision_blocks_out ? asFloat32(out.vision_blocks_out, 'vision_blocks_out') : undefined,
  };
}

export interface QwenLlmInput {
  /** One sequence (the graph takes a batch; Step1X runs each branch alone, docs/MODEL.md §13). */
  readonly inputIds: ArrayLike<number> | BigInt64Array;
  /** 0/1 per token. */
  readonly attentionMask: ArrayLike<number> | BigInt64Array;
  /** `[3, L]` row-major (t, h, w), from `mropePositionIds`. */
  readonly positionIds: ArrayLike<number> | BigInt64Array;
  /** `[imageTokens, hidden]` from `runQwenVision`. */
  readonly imageEmbeds: Float32Array;
  readonly hidden: number;
  /** @defaultValue 151655 (`<|image_pad|>`) */
  readonly imageTokenId?: number;
}

export interface QwenLlmOutput {
  /** `[L, hidden]` after the final RMSNorm. */
  readonly lastHiddenState: Float32Array;
  readonly sequenceLength: number;
  readonly hidden: number;
  /** Debug outputs, present when the graph was built with them. */
  readonly inputsEmbeds?: Float32Array;
  readonly hiddenAfterLayer0?: Float32Array;
}

function optionalFloat(out: Record<string, TensorData>, name: string): Float32Array | undefined {
  return out[name] ? asFloat32(out[name], name) : undefined;
}

export async function runQwenLlm(session: InferenceSession, input: QwenLlmInput): Promise<QwenLlmOutput> {
  const length = input.inputIds.length;
  if (input.attentionMask.length !== length || input.positionIds.length !== 3 * length) {
    throw new QwenInputError('invalid_token_sequence', `ids, mask and positions disagree on the length ${length}`);
  }
  const imageTokenId = input.imageTokenId ?? QWEN_TOKEN.imagePad;
  let imageTokens = 0;
  for (let i = 0; i < length; i++) if (Number(input.inputIds[i]) === imageTokenId) imageTokens++;
  // transformers refuses a mismatch; the graph would silently drop extra rows or read past the end.
  if (imageTokens * input.hidden !== input.imageEmbeds.length) {
    throw new QwenInputError(
      'invalid_token_sequence',
      `${imageTokens} image tokens but ${input.imageEmbeds.length / input.hidden} image embedding rows`,
    );
  }
  const out = await session.run({
    input_ids: int64([1, length], ints(input.inputIds)),
    attention_mask: int64([1, length], ints(input.attentionMask)),
    position_ids: int64([3, 1, length], ints(input.positionIds)),
    image_embeds: float32([imageTokens, input.hidden], input.imageEmbeds),
  });
  const last = out.last_hidden_state;
  return {
    lastHiddenState: asFloat32(last, 'last_hidden_state'),
    sequenceLength: last.dims[1],
    hidden: last.dims[2],
    inputsEmbeds: optionalFloat(out, 'inputs_embeds'),
    hiddenAfterLayer0: optionalFloat(out, 'hidden_after_layer0'),
  };
}

/** One branch through the LLM, then the conditioner's drop/keep/pad into `[640, hidden]` rows and a 0/1 mask. */
export async function encodeMllmBranch(
  session: InferenceSession,
  input: QwenLlmInput,
  maxTokens = STEP1X_MAX_TOKENS,
): Promise<PaddedEmbedding & { readonly llm: QwenLlmOutput }> {
  const llm = await runQwenLlm(session, input);
  return { ...padStep1xEmbedding(llm.lastHiddenState, llm.sequenceLength, llm.hidden, maxTokens), llm };
}
