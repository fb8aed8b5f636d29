import { ApiError, ErrorCode } from '@step1x/contracts';
// Deep import: the pipeline's index also loads onnxruntime-node, which an API-only process does not need.
import { decodeImage, ImageInputError, type ImageInputErrorCode } from '@step1x/pipeline/image-io';
import type { ImageInspector } from '../api-deps';

const CODE_FOR: Readonly<Record<ImageInputErrorCode, ErrorCode>> = {
  image_unreadable: ErrorCode.InvalidImage,
  image_too_large: ErrorCode.ImageTooLarge,
  image_aspect_ratio: ErrorCode.UnsupportedAspectRatio,
};

/**
 * Decodes the input exactly as the worker will (DECISIONS §9), so every image the API accepts is one the worker
 * can read, and bad images are a 422 before the 202.
 */
export class PipelineImageInspector implements ImageInspector {
  constructor(private readonly limits: { maxPixels: number; maxAspectRatio: number }) {}

  async inspect(bytes: Uint8Array): Promise<{ width: number; height: number }> {
    try {
      const image = await decodeImage(bytes, this.limits);
      return { width: image.width, height: image.height };
    } catch (error) {
      if (error instanceof ImageInputError) {
        throw new ApiError(CODE_FOR[error.code], error.message, { param: 'image', cause: error });
      }
      throw error;
    }
  }
}
