import type { OutputFormat } from '@step1x/contracts';
import type { RgbImage } from '@step1x/imaging';

/** One edit as the worker asks for it: the input's bytes (read from S3) and the edit's settings. */
export interface ImageEditRequest {
  image: Uint8Array;
  instruction: string;
  seed: number;
  steps: number;
  guidance: number;
  sizeLevel: number;
  format: OutputFormat;
  /** Aborting it stops the edit at the next denoising step (`EditAbortedError`). */
  signal: AbortSignal;
  /** Called after every denoising step, synchronously from the model loop: keep it cheap. */
  onProgress(step: number, total: number): void;
  /**
   * Step previews every `every` steps (the sampler's clean-image estimate through the models' latent→RGB map, at
   * the latent grid's size), called synchronously from the model loop: hand the work off. Absent: none.
   */
  previews?: { every: number; onPreview(step: number, total: number, image: RgbImage): void };
}

export interface EditedImage {
  /** The encoded result in `format`. */
  bytes: Buffer;
  contentType: string;
  /** Always the oriented input's size (docs/MODEL.md §9). */
  width: number;
  height: number;
  /** The 640-token window cut the instruction (docs/MODEL.md §10). */
  truncated: boolean;
  /** Made by models with random, untrained weights (local mode, tests): it only shows that the pipeline ran. */
  randomWeights: boolean;
  /** Milliseconds per stage, for the edit's receipt (`timings`); absent from editors that do not measure. */
  stageMs?: { preprocess: number; mllm: number; denoise: number; vae: number };
}

/** What an editor runs on, for the edit's receipt (`compute`). */
export interface EditorReceipt {
  executionProvider: string;
  model: { version: string; sha256: string };
}

/** Runs one edit; one editor runs one edit at a time (one per GPU slot). */
export interface ImageEditor {
  /** Absent from editors that cannot say (tests' fakes): the receipt's `compute` is then null. */
  readonly receipt?: EditorReceipt;
  edit(request: ImageEditRequest): Promise<EditedImage>;
  release(): Promise<void>;
}

/**
 * The input cannot be edited, whatever the retry: a client error with a code (`invalid_image`,
 * `unsupported_aspect_ratio`, …), or `model_numerics` when the models produce NaN/Inf for it; either ends the edit
 * as `failed`.
 */
export class EditInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EditInputError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The edit stopped because its signal was aborted (cancel or shutdown); the signal's reason says which. */
export class EditAbortedError extends Error {
  readonly code = 'aborted';
  constructor() {
    super('the edit was stopped at a step boundary');
    this.name = 'EditAbortedError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
