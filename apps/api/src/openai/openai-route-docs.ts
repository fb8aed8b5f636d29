import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { EDIT_PARAMS } from '@step1x/contracts';
import { IGNORED_OPENAI_FIELDS, MAX_IMAGES_PER_REQUEST, MAX_PARTIAL_IMAGES } from './image-edit-form';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const openAiError = (status: number, codes: string) =>
  ApiResponse({ status, description: `OpenAI error shape; \`code\`: ${codes}`, schema: ref('OpenAiError') });

export const CreateImageEditDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Edit an image (OpenAI-compatible, synchronous)',
      description:
        "OpenAI's `images.edit` as the official clients send it: multipart with one `image` and a `prompt`. Creates " +
        '`n` ordinary edits (consecutive seeds; visible at GET /v1/edits) and holds until they finish, up to ' +
        '`OPENAI_SYNC_TIMEOUT_S`; past it, 504 `edits_still_running` with the edit ids in `error.edit_ids` (the ' +
        'edits go on). Outputs keep the input image size and aspect ratio: `size` only picks the size level (the ' +
        'resolution the model works at) whose area is nearest to WIDTH×HEIGHT. `stream=true` answers server-sent ' +
        'events (`image_edit.partial_image`, `image_edit.completed`, or `error`). Errors are ' +
        '`{ "error": { "message", "type", "param", "code" } }` with the codes of POST /v1/edits.',
    }),
    ApiHeader({ name: 'Idempotency-Key', required: false, description: 'as POST /v1/edits; covers all `n` edits' }),
    ApiResponse({
      status: 200,
      description: '`application/json` (ImagesResponse) or, with `stream=true`, `text/event-stream`',
      schema: ref('OpenAiImagesResponse'),
    }),
    openAiError(400, '`invalid_request`, `unknown_field`, `out_of_range`, `instruction_contains_special_token`'),
    openAiError(401, '`unauthorized` (type `authentication_error`)'),
    openAiError(404, '`model_not_found`'),
    openAiError(409, '`idempotency_conflict`, `idempotency_in_progress`, `edit_canceled`'),
    openAiError(413, '`payload_too_large`'),
    openAiError(415, '`unsupported_media_type`'),
    openAiError(422, '`invalid_image`, `image_too_large`, `unsupported_aspect_ratio`'),
    openAiError(429, '`queue_full`, `rate_limited` (type `rate_limit_error`)'),
    openAiError(500, 'a failed edit (`model_numerics`, `internal_error`), with `edit_ids`'),
    openAiError(503, '`service_unavailable`'),
    openAiError(504, '`edits_still_running`, with `edit_ids`'),
  );

export const ListModelsDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'The model served (OpenAI list shape)' }),
    ApiResponse({ status: 200, schema: ref('OpenAiModelList') }),
    openAiError(401, '`unauthorized`'),
  );

export const GetModelDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'One model (OpenAI shape)' }),
    ApiParam({ name: 'id', description: 'model id, e.g. `step1x-edit-v1.1` (`OPENAI_MODEL_ID`)' }),
    ApiResponse({ status: 200, schema: ref('OpenAiModel') }),
    openAiError(404, '`model_not_found`'),
  );

const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra });
const usage = {
  type: 'object',
  description:
    "OpenAI's token fields are 0 (we do not meter tokens); the cost is in `images`, `steps` and `output_megapixels`.",
  required: ['input_tokens', 'input_tokens_details', 'output_tokens', 'total_tokens', 'images', 'steps'],
  properties: {
    input_tokens: { type: 'integer', const: 0 },
    input_tokens_details: {
      type: 'object',
      properties: { text_tokens: { type: 'integer', const: 0 }, image_tokens: { type: 'integer', const: 0 } },
    },
    output_tokens: { type: 'integer', const: 0 },
    total_tokens: { type: 'integer', const: 0 },
    images: { type: 'integer' },
    steps: { type: 'integer', description: 'denoising steps run, summed over the images' },
    output_megapixels: { type: 'number' },
  },
};

/** The OpenAI-compatible routes' schemas and the multipart body, added to the document beside the contract's. */
export function documentOpenAiRoutes(document: OpenAPIObject): void {
  const schemas: Record<string, object> = {
    OpenAiImageEditMultipart: {
      type: 'object',
      required: ['image', 'prompt'],
      additionalProperties: false,
      properties: {
        image: str('the image to edit (`image[]` with one file is accepted too)', { format: 'binary' }),
        prompt: str('the instruction', { maxLength: EDIT_PARAMS.instruction.maxCodePoints }),
        model: str('`OPENAI_MODEL_ID` (default `step1x-edit-v1.1`); another id is 404 `model_not_found`'),
        n: { type: 'integer', minimum: 1, maximum: MAX_IMAGES_PER_REQUEST, default: 1 },
        size: str('`auto` (the default size level) or WIDTHxHEIGHT: picks the nearest size level by area', {
          default: 'auto',
        }),
        response_format: str('`url` (presigned S3 GET) or `b64_json`', {
          enum: ['url', 'b64_json'],
          default: 'b64_json',
        }),
        output_format: str('', { enum: [...EDIT_PARAMS.outputFormat.values], default: 'png' }),
        stream: { type: 'boolean', default: false },
        partial_images: {
          type: 'integer',
          minimum: 0,
          maximum: MAX_PARTIAL_IMAGES,
          default: 0,
          description:
            'with `stream=true`: up to this many `image_edit.partial_image` events per image, from the edit’s step ' +
            'previews (≤ 256 px a side, in `output_format`); the edits then ask for previews every ' +
            'ceil(steps / (partial_images + 1)) steps. Ignored without `stream`.',
        },
        user: str('kept in each edit’s `metadata.openai.user`'),
        safety_identifier: str('as `user` (wins over it)'),
        steps: { type: 'integer', minimum: EDIT_PARAMS.steps.min, maximum: EDIT_PARAMS.steps.max },
        cfg_scale: {
          type: 'number',
          minimum: EDIT_PARAMS.guidance.min,
          maximum: EDIT_PARAMS.guidance.max,
          description: 'our `guidance`',
        },
        seed: { type: 'integer', minimum: EDIT_PARAMS.seed.min, maximum: EDIT_PARAMS.seed.max },
        ...Object.fromEntries(
          IGNORED_OPENAI_FIELDS.map((name) => [name, str('accepted and ignored (OpenAI field we cannot honour)')]),
        ),
      },
      description: '`mask` and `markup` files are refused (400): Step1X-Edit edits the whole image from the prompt.',
    },
    OpenAiImagesResponse: {
      type: 'object',
      required: ['created', 'data', 'usage'],
      properties: {
        created: { type: 'integer' },
        data: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              url: str('presigned S3 GET (`response_format=url`)'),
              b64_json: str('the image bytes (`response_format=b64_json`)'),
              revised_prompt: { type: 'null' },
              edit_id: str('our edit (GET /v1/edits/{id})'),
            },
          },
        },
        background: { type: 'string', const: 'opaque' },
        output_format: { type: 'string', enum: [...EDIT_PARAMS.outputFormat.values] },
        size: str('WIDTHxHEIGHT of the outputs: the input image’s size'),
        usage,
      },
    },
    OpenAiError: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['message', 'type', 'param', 'code'],
          properties: {
            message: { type: 'string' },
            type: {
              type: 'string',
              enum: [
                'invalid_request_error',
                'authentication_error',
                'permission_error',
                'rate_limit_error',
                'server_error',
              ],
            },
            param: { type: ['string', 'null'] },
            code: { type: 'string' },
            edit_ids: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
    OpenAiModel: {
      type: 'object',
      required: ['id', 'object', 'created', 'owned_by'],
      properties: {
        id: { type: 'string' },
        object: { type: 'string', const: 'model' },
        created: { type: 'integer' },
        owned_by: { type: 'string' },
      },
    },
    OpenAiModelList: {
      type: 'object',
      required: ['object', 'data'],
      properties: { object: { type: 'string', const: 'list' }, data: { type: 'array', items: ref('OpenAiModel') } },
    },
  };
  document.components = { ...document.components, schemas: { ...(document.components?.schemas ?? {}), ...schemas } };
  const edit = document.paths['/v1/images/edits']?.post;
  if (edit) {
    edit.requestBody = {
      required: true,
      content: { 'multipart/form-data': { schema: ref('OpenAiImageEditMultipart') } },
    };
  }
}
