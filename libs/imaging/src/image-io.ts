import type { ErrorCode } from '@step1x/contracts';
import sharp from 'sharp';
import { assertRgbImage, RgbImage } from './rgb-image';

/**
 * Image decoding and encoding for the whole service (docs/MODEL.md §2, §9): the API's intake check and the worker's
 * pipeline decode with this one function and the same limits (from MAX_IMAGE_PIXELS / MAX_ASPECT_RATIO), so every
 * image the API accepts is one the worker can read. This library is the only place that imports `sharp`: sharp
 * decodes, normalises and enforces limits, but never resizes for the model (that is the pipeline's `resample.ts`,
 * which is bit-exact with PIL).
 *
 * Decoding turns a PNG, JPEG, WebP, GIF or TIFF into the oriented 8-bit sRGB RGB image the official code would have
 * got from `Image.open(...).convert('RGB')` after EXIF orientation: alpha is flattened onto white; 16-bit, CMYK,
 * grey and palette images become 8-bit sRGB RGB; animated or multi-page inputs use their first frame.
 */

export type ImageInputErrorCode =
  'image_too_large' | 'image_aspect_ratio' | 'image_unreadable' | 'image_format_unsupported';

/** The contract's code for each refusal: the API answers with it (4xx), the worker fails the edit with it. */
export const IMAGE_ERROR_API_CODES: Readonly<Record<ImageInputErrorCode, ErrorCode>> = {
  image_unreadable: 'invalid_image',
  image_too_large: 'image_too_large',
  image_aspect_ratio: 'unsupported_aspect_ratio',
  image_format_unsupported: 'unsupported_media_type',
};

/** Bad input image; every case is the client's (a 4xx), never worth a retry. */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  constructor(
    readonly code: ImageInputErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The input formats we decode: the raster formats `POST /v1/uploads` accepts. */
export const INPUT_IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff'] as const;
export type InputImageFormat = (typeof INPUT_IMAGE_FORMATS)[number];

const ascii = (bytes: Uint8Array, start: number, text: string) =>
  bytes.length >= start + text.length && [...text].every((c, i) => bytes[start + i] === c.charCodeAt(0));

/**
 * The format the file's signature names, or null. Decoding is gated on this before sharp sees the bytes: sharp
 * (libvips) also loads SVG, whose librsvg loader can resolve references to other files and URLs, and other
 * loaders we never meant to expose, so only these raster signatures reach it.
 */
export function sniffInputFormat(bytes: Uint8Array): InputImageFormat | null {
  if (bytes.length >= 8 && ascii(bytes, 1, 'PNG') && bytes[0] === 0x89 && bytes[4] === 0x0d && bytes[5] === 0x0a)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp';
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return 'gif';
  if (
    bytes.length >= 4 &&
    ((ascii(bytes, 0, 'II') && bytes[2] === 42 && bytes[3] === 0) ||
      (ascii(bytes, 0, 'MM') && bytes[2] === 0 && bytes[3] === 42))
  )
    return 'tiff';
  return null;
}

/** Text that starts (after an optional BOM and whitespace) with `<`: SVG, XML or HTML, refused as a format. */
function looksLikeMarkup(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && i < 4096 && (bytes[i] === 0x20 || (bytes[i] >= 0x09 && bytes[i] <= 0x0d))) i++;
  return bytes[i] === 0x3c;
}

/** Image limits; the service passes MAX_IMAGE_PIXELS and MAX_ASPECT_RATIO to both the API and the worker. */
export interface DecodeLimits {
  /** Largest accepted width·height of the (first frame of the) input. @defaultValue 40_000_000 (40 MP) */
  readonly maxPixels?: number;
  /** Largest accepted long side / short side. @defaultValue 100 (the official chain crashes past about 157:1) */
  readonly maxAspectRatio?: number;
}

export const DECODE_LIMIT_DEFAULTS: Required<DecodeLimits> = {
  maxPixels: 40_000_000,
  maxAspectRatio: 100,
};

const WHITE = { r: 255, g: 255, b: 255 };

/** sharp's message when `limitInputPixels` trips (checked against sharp 0.35). */
const PIXEL_LIMIT_MESSAGE = /exceeds pixel limit/i;

function unreadable(err: unknown): ImageInputError {
  if (err instanceof ImageInputError) return err;
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (PIXEL_LIMIT_MESSAGE.test(detail)) return new ImageInputError('image_too_large', detail, { cause: err });
  return new ImageInputError('image_unreadable', `the image could not be decoded: ${detail}`, { cause: err });
}

function checkLimits(width: number, height: number, limits: Required<DecodeLimits>): void {
  if (width * height > limits.maxPixels) {
    throw new ImageInputError(
      'image_too_large',
      `the image is ${width}x${height} = ${width * height} pixels; the limit is ${limits.maxPixels}`,
    );
  }
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (ratio > limits.maxAspectRatio) {
    throw new ImageInputError(
      'image_aspect_ratio',
      `the image is ${width}x${height}, an aspect ratio of ${ratio.toFixed(1)}:1; the limit is ${limits.maxAspectRatio}:1`,
    );
  }
}

/**
 * Decodes encoded image bytes into an oriented 8-bit sRGB RGB image. The signature is checked first (SVG and every
 * other non-raster format are refused), then the header is read and the limits checked before any pixel is
 * decoded, so a small file that declares a huge canvas is refused cheaply.
 * @throws ImageInputError with code image_format_unsupported, image_too_large, image_aspect_ratio or image_unreadable
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits = {}): Promise<RgbImage> {
  const effective = { ...DECODE_LIMIT_DEFAULTS, ...limits };
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ImageInputError('image_unreadable', 'the image is empty');
  }
  const format = sniffInputFormat(bytes);
  if (!format) {
    throw looksLikeMarkup(bytes)
      ? new ImageInputError('image_format_unsupported', 'SVG and other markup images are not accepted')
      : new ImageInputError(
          'image_unreadable',
          `the image could not be decoded: not a ${INPUT_IMAGE_FORMATS.join(', ')} file`,
        );
  }
  const options: sharp.SharpOptions = {
    limitInputPixels: effective.maxPixels,
    failOn: 'error', // truncated or corrupt pixel data is an error, not a grey tail
    pages: 1,
    page: 0,
  };
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(bytes, options).metadata();
  } catch (err) {
    throw unreadable(err);
  }
  if (metadata.format !== format) {
    throw new ImageInputError('image_unreadable', `the image starts like ${format} but decodes as ${metadata.format}`);
  }
  const { width, height } = metadata;
  if (!width || !height) throw new ImageInputError('image_unreadable', 'the image has no dimensions');
  checkLimits(width, height, effective);

  try {
    const { data, info } = await sharp(bytes, options)
      .autoOrient()
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder produced ${info.channels} channels, expected 3`);
    const image = {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
    assertRgbImage(image);
    return image;
  } catch (err) {
    throw unreadable(err);
  }
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export const IMAGE_MIME_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/** Quality for the lossy formats when none is given. */
export const DEFAULT_LOSSY_QUALITY = 90;

/** Encodes an RGB image; `quality` (1–100) applies to jpeg and webp, png is lossless. */
export async function encodeImageBytes(
  image: RgbImage,
  format: ImageFormat,
  quality = DEFAULT_LOSSY_QUALITY,
): Promise<Buffer> {
  assertRgbImage(image);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`quality must be an integer 1–100, got ${quality}`);
  }
  const pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  switch (format) {
    case 'png':
      return pipeline.png().toBuffer();
    case 'jpeg':
      return pipeline.jpeg({ quality }).toBuffer();
    case 'webp':
      return pipeline.webp({ quality }).toBuffer();
    default:
      throw new RangeError(`unsupported output format ${String(format)}`);
  }
}
