import { z } from 'zod';
import { ApiError } from './api-error';
import { PRIORITIES, WEBHOOK_EVENT_FILTERS } from './edit-object';
import type { OutputFormat, Priority, SizeLevel, WebhookEventFilter } from './edit-object';
import { EDIT_PARAMS, instructionProblem } from './edit-params';
import { ErrorCode } from './error-codes';
import { apiErrorFromIssues, type ContractIssueParams } from './validation';

/** Field limits of POST /v1/edits beyond the edit parameters (those are `EDIT_PARAMS`, one definition). */
export const EDIT_REQUEST_LIMITS = {
  instructionMaxCodePoints: EDIT_PARAMS.instruction.maxCodePoints,
  seedMax: EDIT_PARAMS.seed.max,
  stepsMin: EDIT_PARAMS.steps.min,
  stepsMax: EDIT_PARAMS.steps.max,
  guidanceMin: EDIT_PARAMS.guidance.min,
  guidanceMax: EDIT_PARAMS.guidance.max,
  metadataMaxBytes: 4096,
  urlMaxLength: 2048,
  imageKeyMaxLength: 512,
} as const;

export const EDIT_REQUEST_DEFAULTS = {
  steps: EDIT_PARAMS.steps.default,
  guidance: EDIT_PARAMS.guidance.default,
  size_level: EDIT_PARAMS.sizeLevel.default,
  output_format: EDIT_PARAMS.outputFormat.default,
  priority: 'interactive' as Priority,
  previews: EDIT_PARAMS.previews.default,
  // `preview` only when asked for (CONTRACT.md: the default is started, progress, completed).
  webhook_events: ['started', 'progress', 'completed'] as WebhookEventFilter[],
} as const;

function issue(apiCode: ErrorCode, message: string) {
  const params: ContractIssueParams = { apiCode };
  return { code: 'custom' as const, message, params };
}

const instruction = z.string().check((ctx) => {
  const problem = instructionProblem(ctx.value);
  if (problem) ctx.issues.push({ ...issue(problem.code, problem.message), input: ctx.value });
});

const httpUrl = z
  .string()
  .max(EDIT_REQUEST_LIMITS.urlMaxLength)
  .check((ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(ctx.value);
    } catch {
      ctx.issues.push({ ...issue(ErrorCode.InvalidRequest, 'must be an absolute http(s) URL'), input: ctx.value });
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.issues.push({ ...issue(ErrorCode.InvalidRequest, 'must use http or https'), input: ctx.value });
    }
  });

const metadata = z.record(z.string(), z.unknown()).check((ctx) => {
  const bytes = new TextEncoder().encode(JSON.stringify(ctx.value)).length;
  if (bytes > EDIT_REQUEST_LIMITS.metadataMaxBytes) {
    ctx.issues.push({
      ...issue(
        ErrorCode.OutOfRange,
        `must serialise to at most ${EDIT_REQUEST_LIMITS.metadataMaxBytes} bytes, got ${bytes}`,
      ),
      input: ctx.value,
    });
  }
});

/** `completed` is always delivered; the stored list is deduplicated and in canonical order (stable hashes). */
function normaliseEvents(events: readonly WebhookEventFilter[]): WebhookEventFilter[] {
  const wanted = new Set<WebhookEventFilter>([...events, 'completed']);
  return WEBHOOK_EVENT_FILTERS.filter((event) => wanted.has(event));
}

/**
 * The JSON (and, after `coerceMultipartFields`, multipart) body of POST /v1/edits. Unknown keys are refused
 * (`unknown_field`); `null` on a nullable field means "not given".
 */
export const editRequestSchema = z.strictObject({
  instruction,
  seed: z
    .int()
    .min(EDIT_PARAMS.seed.min)
    .max(EDIT_PARAMS.seed.max)
    .nullish()
    .transform((v) => v ?? null),
  steps: z.int().min(EDIT_PARAMS.steps.min).max(EDIT_PARAMS.steps.max).default(EDIT_REQUEST_DEFAULTS.steps),
  guidance: z
    .number()
    .min(EDIT_PARAMS.guidance.min)
    .max(EDIT_PARAMS.guidance.max)
    .default(EDIT_REQUEST_DEFAULTS.guidance),
  size_level: z.literal(EDIT_PARAMS.sizeLevel.levels).default(EDIT_PARAMS.sizeLevel.default),
  output_format: z.enum(EDIT_PARAMS.outputFormat.values).default(EDIT_PARAMS.outputFormat.default),
  webhook_url: httpUrl.nullish().transform((v) => v ?? null),
  webhook_events: z
    .array(z.enum(WEBHOOK_EVENT_FILTERS))
    .max(WEBHOOK_EVENT_FILTERS.length * 4)
    .default(EDIT_REQUEST_DEFAULTS.webhook_events)
    .transform(normaliseEvents),
  priority: z.enum(PRIORITIES).default(EDIT_REQUEST_DEFAULTS.priority),
  previews: z
    .union([z.boolean(), z.int().min(EDIT_PARAMS.previews.min).max(EDIT_PARAMS.previews.max)])
    .default(EDIT_REQUEST_DEFAULTS.previews),
  metadata: metadata.nullish().transform((v) => v ?? null),
  image_url: httpUrl.optional(),
  image_key: z.string().min(1).max(EDIT_REQUEST_LIMITS.imageKeyMaxLength).optional(),
});

export type EditRequestBody = z.input<typeof editRequestSchema>;

/** The parsed fields with every default applied except `seed`, which stays null until the service draws it. */
export interface EditRequestFields {
  instruction: string;
  seed: number | null;
  steps: number;
  guidance: number;
  size_level: SizeLevel;
  output_format: OutputFormat;
  webhook_url: string | null;
  webhook_events: WebhookEventFilter[];
  priority: Priority;
  previews: boolean | number;
  metadata: Record<string, unknown> | null;
}

export type EditImageSource = { kind: 'upload' } | { kind: 'url'; url: string } | { kind: 'key'; key: string };

export interface ParsedEditRequest {
  fields: EditRequestFields;
  image: EditImageSource;
}

/**
 * Validates a create request. `hasUploadedImage` says whether a multipart `image` file came with it: exactly one
 * of that file, `image_url` and `image_key` must be given.
 */
export function parseEditRequest(body: unknown, hasUploadedImage: boolean): ParsedEditRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(ErrorCode.InvalidRequest, 'the body must be a JSON object');
  }
  const result = editRequestSchema.safeParse(body, { reportInput: true });
  if (!result.success) throw apiErrorFromIssues(result.error.issues);
  const { image_url, image_key, ...fields } = result.data;
  const sources = [hasUploadedImage, image_url !== undefined, image_key !== undefined].filter(Boolean).length;
  if (sources !== 1) {
    throw new ApiError(
      ErrorCode.InvalidRequest,
      sources === 0
        ? 'give exactly one image source: an `image` file, `image_url` or `image_key`'
        : 'give only one image source: an `image` file, `image_url` or `image_key`',
      { param: image_url !== undefined ? 'image_url' : image_key !== undefined ? 'image_key' : 'image' },
    );
  }
  const image: EditImageSource = hasUploadedImage
    ? { kind: 'upload' }
    : image_url !== undefined
      ? { kind: 'url', url: image_url }
      : { kind: 'key', key: image_key as string };
  return { fields, image };
}

const NUMERIC_FIELDS = new Set(['seed', 'steps', 'guidance', 'size_level']);
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Multipart fields arrive as strings: numbers are parsed strictly (so "12abc" stays a string and fails as
 * `invalid_request`), `metadata` is JSON text, and `webhook_events` may repeat or be comma-separated.
 */
export function coerceMultipartFields(fields: Readonly<Record<string, readonly string[]>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, values] of Object.entries(fields)) {
    if (name === 'webhook_events') {
      body[name] = values
        .flatMap((v) => v.split(','))
        .map((v) => v.trim())
        .filter((v) => v.length > 0);
      continue;
    }
    if (values.length !== 1) {
      throw new ApiError(ErrorCode.InvalidRequest, `field "${name}" is given ${values.length} times`, { param: name });
    }
    const value = values[0];
    if (name === 'previews') {
      const text = value.trim();
      body[name] = text === 'true' ? true : text === 'false' ? false : DECIMAL.test(text) ? Number(text) : value;
    } else if (NUMERIC_FIELDS.has(name)) {
      body[name] = DECIMAL.test(value.trim()) ? Number(value.trim()) : value;
    } else if (name === 'metadata') {
      try {
        body[name] = JSON.parse(value);
      } catch {
        throw new ApiError(ErrorCode.InvalidRequest, 'metadata must be a JSON object', { param: 'metadata' });
      }
    } else {
      body[name] = value;
    }
  }
  return body;
}
