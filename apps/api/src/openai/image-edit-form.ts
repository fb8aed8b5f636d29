import '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ApiError,
  apiErrorFromIssues,
  ErrorCode,
  parseEditRequest,
  type OutputFormat,
  type ParsedEditRequest,
} from '@step1x/contracts';
import { boundaryOf, BOUNDARY as MULTIPART_BOUNDARY } from '../edits/edit-request-reader';
import type { UploadedImage } from '../edits/image-intake.service';
import type { ModelCatalog, OpenAiModel } from './model-catalog';
import { OpenAiRouteError } from './openai-errors';
import { previewIntervalFor } from './openai-images';

/** What the multipart body of POST /v1/images/edits held: text fields as sent, and the image file(s). */
export interface ImageEditForm {
  fields: Record<string, string[]>;
  images: UploadedImage[];
}

/** OpenAI's field names for one image; the clients send `image[]` when given a list. */
const IMAGE_FIELDS = new Set(['image', 'image[]']);
/** OpenAI file fields that steer the edit by a second image: Step1X-Edit edits from the instruction alone. */
const UNSUPPORTED_FILE_FIELDS = new Set(['mask', 'markup']);

/**
 * Reads the multipart body (the only form OpenAI's images API takes; JSON is 415). Framing problems are 400, the
 * parser's size limits 413, as on POST /v1/edits. A second image is refused as soon as it starts.
 */
export async function readImageEditForm(request: FastifyRequest): Promise<ImageEditForm> {
  if (!request.isMultipart()) {
    throw new ApiError(ErrorCode.UnsupportedMediaType, 'send multipart/form-data, as the OpenAI images API takes it');
  }
  const boundary = boundaryOf(request.headers['content-type'] ?? '');
  if (boundary === null || !MULTIPART_BOUNDARY.test(boundary)) {
    throw new ApiError(
      ErrorCode.InvalidRequest,
      'multipart/form-data needs a boundary parameter of 1 to 70 characters (RFC 2046)',
    );
  }
  const form: ImageEditForm = { fields: {}, images: [] };
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (!IMAGE_FIELDS.has(part.fieldname)) {
          part.file.resume();
          if (UNSUPPORTED_FILE_FIELDS.has(part.fieldname)) {
            throw new ApiError(
              ErrorCode.InvalidRequest,
              `"${part.fieldname}" is not supported: Step1X-Edit edits the whole image from the prompt`,
              { param: part.fieldname },
            );
          }
          throw new ApiError(ErrorCode.UnknownField, `unknown file field "${part.fieldname}"`, {
            param: part.fieldname,
          });
        }
        if (form.images.length > 0) {
          part.file.resume();
          throw new ApiError(ErrorCode.InvalidRequest, 'Step1X-Edit edits one image: send one `image` file', {
            param: 'image',
          });
        }
        form.images.push({ bytes: await part.toBuffer(), contentType: part.mimetype || null });
        continue;
      }
      if (part.valueTruncated) {
        throw new ApiError(ErrorCode.PayloadTooLarge, `field "${part.fieldname}" is too long`, {
          param: part.fieldname,
        });
      }
      (form.fields[part.fieldname] ??= []).push(String(part.value));
    }
  } catch (error) {
    if (error instanceof ApiError || typeof (error as { statusCode?: unknown }).statusCode === 'number') throw error;
    throw new ApiError(ErrorCode.InvalidRequest, `the multipart body is malformed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return form;
}

export const OPENAI_RESPONSE_FORMATS = ['url', 'b64_json'] as const;
export type OpenAiResponseFormat = (typeof OPENAI_RESPONSE_FORMATS)[number];

/** OpenAI's `n` goes to 10; one request here holds at most this many edits (each is a full run of the model). */
export const MAX_IMAGES_PER_REQUEST = 4;
export const MAX_PARTIAL_IMAGES = 3;
const USER_MAX_LENGTH = 256;

/**
 * OpenAI fields we accept and ignore: clients send them only when their caller asks, and none of them changes what
 * Step1X-Edit can do (no transparent backgrounds, no quality tiers, no compression setting: outputs are encoded
 * at the encoder's defaults). Every other unknown field is 400 `unknown_field`.
 */
export const IGNORED_OPENAI_FIELDS = [
  'background',
  'quality',
  'input_fidelity',
  'output_compression',
  'complexity',
  'moderation',
] as const;

const NUMERIC_FIELDS = new Set(['n', 'partial_images', 'steps', 'cfg_scale', 'seed', 'output_compression']);
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SIZE = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/;

const ignored = Object.fromEntries(IGNORED_OPENAI_FIELDS.map((name) => [name, z.unknown().optional()]));

const formSchema = z.strictObject({
  prompt: z.string({ error: 'is required' }),
  model: z.string().optional(),
  n: z.int().min(1).max(MAX_IMAGES_PER_REQUEST).default(1),
  size: z.string().optional(),
  response_format: z.enum(OPENAI_RESPONSE_FORMATS).default('b64_json'),
  output_format: z.string().optional(),
  stream: z.enum(['true', 'false']).default('false'),
  partial_images: z.int().min(0).max(MAX_PARTIAL_IMAGES).default(0),
  user: z.string().max(USER_MAX_LENGTH).optional(),
  safety_identifier: z.string().max(USER_MAX_LENGTH).optional(),
  // StepFun-style extras, checked by the edit schema under our names (steps, guidance, seed).
  steps: z.unknown().optional(),
  cfg_scale: z.unknown().optional(),
  seed: z.unknown().optional(),
  ...ignored,
});

/** Our field → the OpenAI field a client sent it as, so errors name what the caller wrote. */
const OPENAI_PARAM: Readonly<Record<string, string>> = {
  instruction: 'prompt',
  guidance: 'cfg_scale',
  size_level: 'size',
  image: 'image',
};

/** One POST /v1/images/edits, checked and in our terms. */
export interface ImageEditRequest {
  model: OpenAiModel;
  n: number;
  responseFormat: OpenAiResponseFormat;
  stream: boolean;
  partialImages: number;
  /** `user` or `safety_identifier`: kept in each edit's metadata. */
  user: string | null;
  /** The edit of image `index` with `seed` (null: the service draws one). */
  editRequest(index: number, seed: number | null): ParsedEditRequest;
  /** Whether the caller chose the seed (else the first edit draws one and the others follow it). */
  seed: number | null;
  outputFormat: OutputFormat;
  image: UploadedImage;
}

/**
 * The form → an `ImageEditRequest`, or the same 4xx POST /v1/edits would give (codes `invalid_request`,
 * `unknown_field`, `out_of_range`, …) with `param` named as OpenAI names it; an unknown model is 404
 * `model_not_found`. Empty fields count as absent (the Python client sends `None` as an empty string).
 */
export function parseImageEditForm(form: ImageEditForm, catalog: ModelCatalog): ImageEditRequest {
  const input: Record<string, unknown> = {};
  for (const [name, values] of Object.entries(form.fields)) {
    if (values.length !== 1) {
      throw new ApiError(ErrorCode.InvalidRequest, `field "${name}" is given ${values.length} times`, { param: name });
    }
    const value = values[0].trim();
    if (value === '') continue;
    input[name] = NUMERIC_FIELDS.has(name) && DECIMAL.test(value) ? Number(value) : values[0];
  }
  const parsed = formSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw apiErrorFromIssues(parsed.error.issues);
  const fields = parsed.data;
  if (form.images.length === 0) {
    throw new ApiError(ErrorCode.InvalidRequest, 'send the image to edit as the `image` file', { param: 'image' });
  }
  const model = catalog.resolve(fields.model);
  if (!model) {
    throw new OpenAiRouteError(
      404,
      'model_not_found',
      `The model \`${fields.model}\` does not exist; this service serves \`${catalog.model.id}\` (GET /v1/models)`,
      { param: 'model' },
    );
  }
  const sizeLevel = sizeLevelOf(fields.size, catalog);
  const user = fields.safety_identifier ?? fields.user ?? null;
  const n = fields.n;
  const partialImages = fields.stream === 'true' ? fields.partial_images : 0;
  const editRequest = (index: number, seed: unknown): ParsedEditRequest => {
    const parsed = withOpenAiParams(() =>
      parseEditRequest(
        {
          instruction: fields.prompt,
          seed,
          steps: fields.steps,
          guidance: fields.cfg_scale,
          size_level: sizeLevel,
          output_format: fields.output_format,
          metadata: { openai: { n, index, user } },
        },
        true,
      ),
    );
    // Only a streamed request with partial images asks for previews: they cost a little worker time and S3 space.
    if (partialImages === 0) return parsed;
    return {
      ...parsed,
      fields: { ...parsed.fields, previews: previewIntervalFor(parsed.fields.steps, partialImages) },
    };
  };
  // Checks every field once now, so a bad request is refused before anything is accepted.
  const first = editRequest(0, fields.seed);
  return {
    model,
    n,
    responseFormat: fields.response_format,
    stream: fields.stream === 'true',
    partialImages,
    user,
    seed: first.fields.seed,
    outputFormat: first.fields.output_format,
    image: form.images[0],
    editRequest,
  };
}

/** `seed + index` within the seed's range (0 … 2³²−1). */
export function seedFor(base: number, index: number): number {
  return (base + index) % 2 ** 32;
}

function sizeLevelOf(size: string | undefined, catalog: ModelCatalog): number {
  if (size === undefined || size === 'auto') return catalog.defaultSizeLevel;
  const match = SIZE.exec(size);
  if (!match) {
    throw new ApiError(ErrorCode.InvalidRequest, 'size must be `auto` or WIDTHxHEIGHT, e.g. 1024x1024', {
      param: 'size',
    });
  }
  return catalog.nearestSizeLevel(Number(match[1]), Number(match[2]));
}

function withOpenAiParams<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ApiError) || error.param === null) throw error;
    const head = error.param.split('.')[0];
    const param = OPENAI_PARAM[head] ?? error.param;
    if (param === error.param) throw error;
    throw new ApiError(error.code, error.message.replace(`${error.param}: `, `${param}: `), {
      param,
      headers: error.headers,
      cause: error,
    });
  }
}
