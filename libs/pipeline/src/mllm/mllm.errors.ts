import { PipelineError } from '../pipeline-error';

/** Codes match the HTTP contract's 400 codes, so the API can map them through unchanged. */
export type InstructionErrorCode = 'instruction_contains_special_token' | 'out_of_range';

/** An instruction the pipeline refuses (docs/MODEL.md §10). */
export class InstructionRejectedError extends PipelineError<InstructionErrorCode> {
  override readonly name = 'InstructionRejectedError';
}

export type QwenInputErrorCode =
  'unsupported_aspect_ratio' | 'image_too_small' | 'invalid_image' | 'invalid_token_sequence';

/** Inputs the official Qwen2.5-VL chain would raise on (smart_resize limits) or that are malformed. */
export class QwenInputError extends PipelineError<QwenInputErrorCode> {
  override readonly name = 'QwenInputError';
}
