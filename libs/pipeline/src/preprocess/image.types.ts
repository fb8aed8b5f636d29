/** The pipeline's image type is `@step1x/imaging`'s: decoding happens there, resampling here. */
export { assertRgbImage, type RgbImage } from '@step1x/imaging';

/** The PIL filters the official pipeline resizes with (docs/MODEL.md §2). */
export type ResampleFilter = 'bicubic' | 'lanczos';
