import { RgbImage } from '../preprocess/image.types';
import { QwenTokenizer } from '../tokenizer/qwen-tokenizer';
import { TokenWindow, step1xTokenWindow } from './embedding-layout';
import { MropePositions, mropePositionIds } from './mrope-position-ids';
import { EditPromptIds, buildEditPromptIds, validateInstruction } from './prompt';
import { PreparedQwenImage, QwenImageConfig, STEP1X_QWEN_IMAGE_CONFIG, prepareQwenImage } from './qwen-image';
import {
  QWEN25VL_VISION_WINDOW,
  VisionWindowConfig,
  VisionWindowLayout,
  visionPatchPositionIds,
  visionWindowLayout,
} from './window-index';

/** The edit mode's negative prompt: same PREFIX and image, empty instruction (docs/MODEL.md §15). */
export const STEP1X_NEGATIVE_INSTRUCTION = '';

/** One Qwen call: the language side of one CFG branch. */
export interface MllmBranchInputs {
  readonly prompt: EditPromptIds;
  readonly positions: MropePositions;
  /** Which rows of the final hidden states become the 640-row embedding. */
  readonly window: TokenWindow;
}

export interface VisionInputs extends VisionWindowLayout {
  /** `[rows, 2]` (h, w) patch coordinates for the vision tower's 2-D RoPE. */
  readonly patchPositionIds: Int32Array;
}

/** Everything both Qwen calls of one edit need, computed once (the image is shared by both branches). */
export interface MllmInputs {
  readonly image: PreparedQwenImage;
  readonly vision: VisionInputs;
  readonly cond: MllmBranchInputs;
  readonly uncond: MllmBranchInputs;
  /** The 640-row window cut the conditional branch (docs/MODEL.md §10: reported as `input.truncated`). */
  readonly truncated: boolean;
}

export function prepareMllmBranch(
  tokenizer: QwenTokenizer,
  instruction: string,
  image: PreparedQwenImage,
  mergeSize = STEP1X_QWEN_IMAGE_CONFIG.mergeSize,
): MllmBranchInputs {
  const prompt = buildEditPromptIds(tokenizer, instruction, image.numImageTokens);
  return {
    prompt,
    positions: mropePositionIds(prompt.inputIds, prompt.attentionMask, [image.grid], mergeSize),
    window: step1xTokenWindow(prompt.inputIds.length),
  };
}

export function prepareVisionInputs(
  image: PreparedQwenImage,
  config: VisionWindowConfig = QWEN25VL_VISION_WINDOW,
): VisionInputs {
  return {
    ...visionWindowLayout([image.grid], config),
    patchPositionIds: visionPatchPositionIds([image.grid], config),
  };
}

/**
 * The MLLM inputs of one edit from the DiT-size reference image (`input_process_image`'s output) and the
 * instruction. Throws `InstructionRejectedError` for instructions docs/MODEL.md §10 refuses.
 */
export function prepareMllmInputs(
  tokenizer: QwenTokenizer,
  instruction: string,
  referenceImage: RgbImage,
  imageConfig: QwenImageConfig = STEP1X_QWEN_IMAGE_CONFIG,
  windowConfig: VisionWindowConfig = QWEN25VL_VISION_WINDOW,
): MllmInputs {
  validateInstruction(tokenizer, instruction); // before spending time on the image
  const image = prepareQwenImage(referenceImage, imageConfig);
  const condBranch = prepareMllmBranch(tokenizer, instruction, image, imageConfig.mergeSize);
  return {
    image,
    vision: prepareVisionInputs(image, windowConfig),
    cond: condBranch,
    uncond: prepareMllmBranch(tokenizer, STEP1X_NEGATIVE_INSTRUCTION, image, imageConfig.mergeSize),
    truncated: condBranch.window.truncated,
  };
}
