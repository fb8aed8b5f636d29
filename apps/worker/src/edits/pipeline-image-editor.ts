import type { ErrorCode } from '@step1x/contracts';
import { encodeImageBytes, IMAGE_ERROR_API_CODES, IMAGE_MIME_TYPES, ImageInputError } from '@step1x/imaging';
import {
  EditCanceledError,
  EditRequestError,
  InstructionRejectedError,
  ModelNumericsError,
  QwenInputError,
  SizeLevelError,
  type QwenInputErrorCode,
  type Step1XEditPipeline,
} from '@step1x/pipeline';
import {
  EditAbortedError,
  EditInputError,
  type EditedImage,
  type EditorReceipt,
  type ImageEditor,
  type ImageEditRequest,
} from './image-editor.port';

const QWEN_ERROR_CODE: Readonly<Record<QwenInputErrorCode, ErrorCode>> = {
  unsupported_aspect_ratio: 'unsupported_aspect_ratio',
  image_too_small: 'invalid_image',
  invalid_image: 'invalid_image',
  invalid_token_sequence: 'invalid_request',
};

/**
 * The pipeline's own refusals become `EditInputError` with the contract's codes (the edit ends `failed`, never
 * retried): bad input, and non-finite model outputs (`model_numerics`: the same input gives the same numbers, so a
 * retry cannot help). The rest stays as is (infrastructure, retried).
 */
export function classifyPipelineError(error: unknown): unknown {
  if (error instanceof EditCanceledError) {
    return new EditAbortedError();
  }
  if (error instanceof ImageInputError) {
    return new EditInputError(IMAGE_ERROR_API_CODES[error.code], error.message, { cause: error });
  }
  if (error instanceof EditRequestError) return new EditInputError(error.code, error.message, { cause: error });
  if (error instanceof ModelNumericsError) return new EditInputError(error.code, error.message, { cause: error });
  if (error instanceof SizeLevelError) {
    return new EditInputError('unsupported_aspect_ratio', error.message, { cause: error });
  }
  if (error instanceof InstructionRejectedError) return new EditInputError(error.code, error.message, { cause: error });
  if (error instanceof QwenInputError) {
    return new EditInputError(QWEN_ERROR_CODE[error.code], error.message, { cause: error });
  }
  return error;
}

/**
 * The builder records where each model's weights came from in the manifest's `source`; random initialisation is
 * written as `random (seed N)` (libs/model-builder, build/tiny-models.ts).
 */
export function hasRandomWeights(source: Readonly<Record<string, string>>): boolean {
  return Object.values(source).some((origin) => origin.startsWith('random'));
}

/** `ImageEditor` on one `Step1XEditPipeline` (ONNX Runtime) plus the output encoding. */
export class PipelineImageEditor implements ImageEditor {
  readonly randomWeights: boolean;
  readonly receipt: EditorReceipt;

  /** `executionProvider`: the first of ORT_EXECUTION_PROVIDERS, the one ONNX Runtime places the graphs on. */
  constructor(
    private readonly pipeline: Step1XEditPipeline,
    executionProvider = 'cpu',
  ) {
    this.randomWeights = hasRandomWeights(pipeline.weightSource);
    this.receipt = { executionProvider, model: { ...pipeline.modelIdentity } };
  }

  async edit(request: ImageEditRequest): Promise<EditedImage> {
    try {
      const result = await this.pipeline.edit({
        image: request.image,
        instruction: request.instruction,
        seed: request.seed,
        steps: request.steps,
        guidance: request.guidance,
        sizeLevel: request.sizeLevel,
        signal: request.signal,
        onProgress: ({ step, total }) => request.onProgress(step, total),
        previews: request.previews && {
          every: request.previews.every,
          onPreview: ({ step, total, image }) => request.previews?.onPreview(step, total, image),
        },
      });
      const encodeStarted = performance.now();
      const bytes = await encodeImageBytes(result.image, request.format);
      const t = result.timings;
      return {
        stageMs: {
          preprocess: t.preprocessMs,
          mllm: t.mllmMs,
          denoise: t.denoiseMs,
          vae: t.vaeEncodeMs + t.vaeDecodeMs + t.postprocessMs + (performance.now() - encodeStarted),
        },
        bytes,
        contentType: IMAGE_MIME_TYPES[request.format],
        width: result.image.width,
        height: result.image.height,
        truncated: result.truncated,
        randomWeights: this.randomWeights,
      };
    } catch (error) {
      throw classifyPipelineError(error);
    }
  }

  release(): Promise<void> {
    return this.pipeline.release();
  }
}
