import type { EditRecord, OutputFormat } from '@step1x/contracts';

/**
 * OpenAI's `usage`, kept so typed clients find the fields they expect. We do not meter tokens, so OpenAI's token
 * counts are 0; what an edit costs here is in our own fields: images made, denoising steps run (the work scales with
 * them) and output megapixels (CONTRACT.md "Usage" counts the same).
 */
export interface OpenAiImageUsage {
  input_tokens: 0;
  input_tokens_details: { text_tokens: 0; image_tokens: 0 };
  output_tokens: 0;
  total_tokens: 0;
  images: number;
  steps: number;
  output_megapixels: number;
}

export interface OpenAiImage {
  url?: string;
  b64_json?: string;
  revised_prompt: null;
  /** Ours: the edit behind this image (GET /v1/edits/{id}). */
  edit_id: string;
}

/** OpenAI's `ImagesResponse`. */
export interface OpenAiImagesResponse {
  created: number;
  data: OpenAiImage[];
  background: 'opaque';
  output_format: OutputFormat;
  /** `WIDTHxHEIGHT` of the images: the input's (oriented) size, whatever `size` asked for. */
  size: string;
  usage: OpenAiImageUsage;
}

/** OpenAI's `ImageEditPartialImageEvent`. */
export interface ImageEditPartialImageEvent {
  type: 'image_edit.partial_image';
  b64_json: string;
  background: 'opaque';
  created_at: number;
  /** The requested format: the preview (a JPEG ≤ 256 px) is re-encoded in it. */
  output_format: OutputFormat;
  partial_image_index: number;
  quality: 'auto';
  /** `WIDTHxHEIGHT` of this partial image: the preview's own size (≤ 256 px a side), not the final one. */
  size: string;
  /** Ours: which edit (and so which of the `n` images) this preview belongs to. */
  edit_id: string;
}

/** OpenAI's `ImageEditCompletedEvent`. */
export interface ImageEditCompletedEvent {
  type: 'image_edit.completed';
  b64_json: string;
  background: 'opaque';
  created_at: number;
  output_format: OutputFormat;
  quality: 'auto';
  size: string;
  usage: OpenAiImageUsage;
  edit_id: string;
}

export function sizeOf(record: EditRecord): string {
  const { width, height } = record.output ?? record.input;
  return `${width}x${height}`;
}

export function usageOf(records: readonly EditRecord[]): OpenAiImageUsage {
  const pixels = records.reduce((sum, r) => sum + (r.output ? r.output.width * r.output.height : 0), 0);
  return {
    input_tokens: 0,
    input_tokens_details: { text_tokens: 0, image_tokens: 0 },
    output_tokens: 0,
    total_tokens: 0,
    images: records.length,
    steps: records.reduce((sum, r) => sum + r.input.steps, 0),
    output_megapixels: Math.round(pixels) / 1e6,
  };
}

/**
 * Which previews become partial images: of `wanted` (0–3), the k-th goes out at the first preview at or past
 * k/(wanted+1) of the steps, so they spread over the run instead of bunching at its start. The final step is the
 * completed image, never a partial one.
 */
export function takesPartialImage(step: number, total: number, sent: number, wanted: number): boolean {
  if (sent >= wanted || step >= total) return false;
  return step >= Math.ceil(((sent + 1) * total) / (wanted + 1));
}

/**
 * The `previews` interval (every k steps) a streamed edit asks for so that at most `wanted` previews come before its
 * last step: previews land at steps k, 2k, … and (wanted+1)·k ≥ steps, so at most `wanted` of them are before the
 * end (one may land on the last step itself; it is not sent, the completed image is). Each of those is taken by
 * `takesPartialImage`, since k·m ≥ ⌈m·steps/(wanted+1)⌉.
 */
export function previewIntervalFor(steps: number, wanted: number): number {
  return Math.max(1, Math.ceil(steps / (wanted + 1)));
}

/** One server-sent event as OpenAI sends them: `event:` names the type, `data:` holds the JSON on one line. */
export function sseEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
