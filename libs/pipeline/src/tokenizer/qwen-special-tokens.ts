/**
 * Qwen2.5-VL's control-token ids (docs/MODEL.md §6). The added-token table is 151643…151664; Qwen3's tokenizer.json,
 * which we ship for tests, appends 151665…151668, which Qwen2.5-VL does not have (docs/MODEL.md §6).
 */
export const QWEN_TOKEN = {
  endOfText: 151643,
  imStart: 151644,
  imEnd: 151645,
  visionStart: 151652,
  visionEnd: 151653,
  visionPad: 151654,
  imagePad: 151655,
  videoPad: 151656,
} as const;

/** The text of the tokens above, as the chat template writes them. */
export const QWEN_TOKEN_TEXT = {
  imStart: '<|im_start|>',
  imEnd: '<|im_end|>',
  visionStart: '<|vision_start|>',
  visionEnd: '<|vision_end|>',
  imagePad: '<|image_pad|>',
} as const;

/** First id past Qwen2.5-VL's added-token table; added tokens at or above it are dropped at load. */
export const QWEN25VL_ADDED_TOKEN_LIMIT = 151665;

/** Token id 0 is `!`: the official attention mask `input_ids > 0` masks it (docs/MODEL.md §13). */
export const EXCLAMATION_TOKEN_ID = 0;

/** Added tokens the pipeline relies on, checked at load so a wrong tokenizer.json fails at boot. */
export const REQUIRED_ADDED_TOKENS: ReadonlyArray<readonly [string, number]> = [
  ['<|endoftext|>', QWEN_TOKEN.endOfText],
  [QWEN_TOKEN_TEXT.imStart, QWEN_TOKEN.imStart],
  [QWEN_TOKEN_TEXT.imEnd, QWEN_TOKEN.imEnd],
  [QWEN_TOKEN_TEXT.visionStart, QWEN_TOKEN.visionStart],
  [QWEN_TOKEN_TEXT.visionEnd, QWEN_TOKEN.visionEnd],
  [QWEN_TOKEN_TEXT.imagePad, QWEN_TOKEN.imagePad],
];
