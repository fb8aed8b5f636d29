import { ApiError } from '@step1x/contracts';
import { decodeImage, IMAGE_ERROR_API_CODES, ImageInputError, type DecodeLimits } from '@step1x/imaging';
import type { ImageInspector } from '../api-deps';

/**
 * Decodes the input exactly as the worker will (`@step1x/imaging`, same limits from the same config; docs/MODEL.md
 * §9), so every image the API accepts is one the worker can read, and bad images are a 4xx before the 202.
 */
export class DecodingImageInspector implements ImageInspector {
  constructor(private readonly limits: Required<DecodeLimits>) {}

  async inspect(bytes: Uint8Array): Promise<{ width: number; height: number }> {
    try {
      const image = await decodeImage(bytes, this.limits);
      return { width: image.width, height: image.height };
    } catch (error) {
      if (error instanceof ImageInputError) {
        throw new ApiError(IMAGE_ERROR_API_CODES[error.code], error.message, { param: 'image', cause: error });
      }
      throw error;
    }
  }
}
