/**
 * The literals of Qwen2.5-VL's added tokens, ids 151643–151664. The HF tokenizer matches them before BPE, so an
 * instruction containing one would inject a control token into the chat template (docs/MODEL.md §10): we refuse it.
 */
export const QWEN_SPECIAL_TOKENS: readonly string[] = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|object_ref_start|>',
  '<|object_ref_end|>',
  '<|box_start|>',
  '<|box_end|>',
  '<|quad_start|>',
  '<|quad_end|>',
  '<|vision_start|>',
  '<|vision_end|>',
  '<|vision_pad|>',
  '<|image_pad|>',
  '<|video_pad|>',
  '<tool_call>',
  '</tool_call>',
  '<|fim_prefix|>',
  '<|fim_middle|>',
  '<|fim_suffix|>',
  '<|fim_pad|>',
  '<|repo_name|>',
  '<|file_sep|>',
];

/** The first special-token literal found in `text`, or null. */
export function findSpecialToken(text: string): string | null {
  for (const token of QWEN_SPECIAL_TOKENS) {
    if (text.includes(token)) return token;
  }
  return null;
}
