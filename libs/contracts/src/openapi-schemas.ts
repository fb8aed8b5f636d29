import { z } from 'zod';
import { EDIT_STATUSES, OUTPUT_FORMATS, PRIORITIES } from './edit-object';
import { EDIT_PARAMS } from './edit-params';
import { editRequestSchema } from './edit-request.schema';
import { ALL_ERROR_CODES } from './error-codes';
import { BATCH_ID_PATTERN, BATCH_LIMITS, BATCH_STATUSES, batchRequestSchema } from './batch';
import { uploadRequestSchema, UPLOAD_CONTENT_TYPES } from './list-and-upload.schema';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = { [key: string]: unknown };

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const isoTime: JsonSchema = { type: 'string', format: 'date-time' };

/** Every property is required: a field that does not apply yet is null, never absent (CONTRACT.md). */
function object(properties: Record<string, JsonSchema>, description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

export const EDIT_OBJECT_JSON_SCHEMA: JsonSchema = object(
  {
    id: { type: 'string', pattern: '^edit_[0-9A-HJKMNP-TV-Z]{26}$' },
    status: { type: 'string', enum: [...EDIT_STATUSES] },
    created_at: isoTime,
    started_at: nullable(isoTime),
    completed_at: nullable(isoTime),
    queue_position: nullable({ type: 'integer', minimum: 1, description: '1-based within its lane while queued' }),
    eta_s: nullable({
      type: 'integer',
      minimum: 0,
      description:
        'Seconds until the edit starts (queued) or ends (running), from measured recent throughput; null when unknown',
    }),
    progress: object({ step: { type: 'integer', minimum: 0 }, total: { type: 'integer', minimum: 1 } }),
    attempts: { type: 'integer', minimum: 0 },
    cancel_requested: { type: 'boolean' },
    input: object({
      instruction: {
        type: 'string',
        minLength: EDIT_PARAMS.instruction.minCodePoints,
        maxLength: EDIT_PARAMS.instruction.maxCodePoints,
      },
      seed: { type: 'integer', minimum: EDIT_PARAMS.seed.min, maximum: EDIT_PARAMS.seed.max },
      steps: { type: 'integer', minimum: EDIT_PARAMS.steps.min, maximum: EDIT_PARAMS.steps.max },
      guidance: { type: 'number', minimum: EDIT_PARAMS.guidance.min, maximum: EDIT_PARAMS.guidance.max },
      size_level: { type: 'integer', enum: [...EDIT_PARAMS.sizeLevel.levels] },
      output_format: { type: 'string', enum: [...EDIT_PARAMS.outputFormat.values] },
      priority: { type: 'string', enum: [...PRIORITIES] },
      width: nullable({ type: 'integer', minimum: 1, description: 'null for a batch item until it is decoded' }),
      height: nullable({ type: 'integer', minimum: 1 }),
      truncated: nullable({ type: 'boolean' }),
      previews: {
        anyOf: [
          { type: 'boolean' },
          { type: 'integer', minimum: EDIT_PARAMS.previews.min, maximum: EDIT_PARAMS.previews.max },
        ],
        description: 'step previews: false, true (every step) or every k steps',
      },
    }),
    output: nullable(
      object(
        {
          url: { type: 'string', format: 'uri', description: 'presigned S3 GET, valid 1 h, signed on every read' },
          expires_at: isoTime,
          width: { type: 'integer' },
          height: { type: 'integer' },
          format: { type: 'string', enum: [...OUTPUT_FORMATS] },
          seed: { type: 'integer' },
          random_weights: {
            type: 'boolean',
            description: 'made by models with random, untrained weights (local mode, tests): not a meaningful edit',
          },
        },
        'present once the edit succeeded',
      ),
    ),
    error: nullable(object({ code: { type: 'string' }, message: { type: 'string' } })),
    metadata: nullable({ type: 'object', additionalProperties: true }),
    webhook: object(
      {
        url: nullable({ type: 'string', format: 'uri' }),
        status: { type: 'string', enum: ['none', 'pending', 'delivered', 'failed'] },
        attempts: { type: 'integer', minimum: 0, description: 'delivery attempts of every event of this edit' },
      },
      '`none` without a webhook URL; `delivered` once `edit.completed` arrived; `failed` once its retries were spent',
    ),
    batch_id: nullable({ type: 'string', pattern: '^batch_[0-9A-HJKMNP-TV-Z]{26}$' }),
    custom_id: nullable({ type: 'string', maxLength: BATCH_LIMITS.customIdMaxLength }),
    timings: nullable(
      object(
        {
          queued_ms: { type: 'integer', minimum: 0, description: 'created_at → start of the finishing attempt' },
          preprocess_ms: { type: 'integer', minimum: 0, description: 'input read/fetch, decode, resize' },
          mllm_ms: { type: 'integer', minimum: 0 },
          denoise_ms: { type: 'integer', minimum: 0 },
          vae_ms: { type: 'integer', minimum: 0, description: 'VAE encode + decode, resize back, output encoding' },
          upload_ms: { type: 'integer', minimum: 0 },
          total_ms: { type: 'integer', minimum: 0, description: 'created_at → completed_at' },
        },
        'measured by the worker; null until the edit finished',
      ),
    ),
    compute: nullable(
      object(
        {
          worker_seconds: { type: 'number', minimum: 0 },
          execution_provider: { type: 'string', description: 'ONNX Runtime execution provider, e.g. `cuda`, `cpu`' },
          model: object({
            version: { type: 'string' },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'over every graph file digest' },
          }),
        },
        'the receipt a tenant is billed from; null until known',
      ),
    ),
  },
  'An edit. `status`: queued → running → succeeded | failed | canceled.',
);

export const ERROR_BODY_JSON_SCHEMA: JsonSchema = object({
  error: object({
    code: { type: 'string', enum: [...ALL_ERROR_CODES] },
    message: { type: 'string' },
    param: nullable({ type: 'string' }),
  }),
});

export const EDIT_LIST_JSON_SCHEMA: JsonSchema = object({
  data: { type: 'array', items: { $ref: '#/components/schemas/Edit' } },
  next_cursor: nullable({ type: 'string' }),
});

export const UPLOAD_TICKET_JSON_SCHEMA: JsonSchema = object({
  image_key: { type: 'string' },
  upload_url: { type: 'string', format: 'uri' },
  method: { type: 'string', enum: ['PUT'] },
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  expires_at: isoTime,
});

export const WEBHOOK_SECRET_JSON_SCHEMA: JsonSchema = object({
  secret: { type: 'string', pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$' },
});

function requestSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** JSON body of POST /v1/edits; the instruction's length is a custom check (code points), so it is stated here. */
function createEditSchema(): JsonSchema {
  const json = requestSchema(editRequestSchema);
  const properties = { ...(json.properties as Record<string, JsonSchema>) };
  properties.instruction = {
    ...properties.instruction,
    minLength: EDIT_PARAMS.instruction.minCodePoints,
    maxLength: EDIT_PARAMS.instruction.maxCodePoints,
    description: 'the edit to make; not only whitespace, no Qwen special-token literals',
  };
  return { ...json, properties };
}

/** Multipart form of POST /v1/edits: the same fields as strings, plus the `image` file. */
function multipartEditSchema(): JsonSchema {
  const json = createEditSchema();
  const properties = { ...(json.properties as Record<string, JsonSchema>) };
  properties.image = { type: 'string', format: 'binary', description: 'the input image (at most 20 MB)' };
  properties.metadata = { type: 'string', description: 'a JSON object, at most 4 KB' };
  properties.webhook_events = { type: 'string', description: 'comma-separated, or the field repeated' };
  properties.previews = { type: 'string', description: '`false`, `true` or an integer k (every k steps)' };
  return { ...json, properties };
}

const counts = object({
  total: { type: 'integer', minimum: 1 },
  queued: { type: 'integer', minimum: 0 },
  running: { type: 'integer', minimum: 0 },
  succeeded: { type: 'integer', minimum: 0 },
  failed: { type: 'integer', minimum: 0 },
  canceled: { type: 'integer', minimum: 0 },
});

export const BATCH_OBJECT_JSON_SCHEMA: JsonSchema = object(
  {
    id: { type: 'string', pattern: BATCH_ID_PATTERN.source },
    status: { type: 'string', enum: [...BATCH_STATUSES] },
    created_at: isoTime,
    completed_at: nullable(isoTime),
    counts,
    metadata: nullable({ type: 'object', additionalProperties: true }),
    results_url: nullable({
      type: 'string',
      format: 'uri',
      description: 'presigned JSONL, one line per item in input order: `{ custom_id, edit_id, status, output, error }`',
    }),
    results_expires_at: nullable(isoTime),
  },
  'A batch. `status`: queued → running → completed (or canceled).',
);

export const USAGE_JSON_SCHEMA: JsonSchema = object({
  data: {
    type: 'array',
    items: object({
      date: { type: 'string', format: 'date' },
      edits: object({
        succeeded: { type: 'integer', minimum: 0 },
        failed: { type: 'integer', minimum: 0 },
        canceled: { type: 'integer', minimum: 0 },
      }),
      worker_seconds: { type: 'number', minimum: 0 },
      output_megapixels: { type: 'number', minimum: 0 },
    }),
  },
});

/** The component schemas of the OpenAPI document, keyed by component name. */
export function apiComponentSchemas(): Record<string, JsonSchema> {
  return {
    Edit: EDIT_OBJECT_JSON_SCHEMA,
    EditList: EDIT_LIST_JSON_SCHEMA,
    Error: ERROR_BODY_JSON_SCHEMA,
    CreateEditRequest: createEditSchema(),
    CreateEditMultipart: multipartEditSchema(),
    CreateUploadRequest: {
      ...requestSchema(uploadRequestSchema),
      description: `content_type one of ${UPLOAD_CONTENT_TYPES.join(', ')}`,
    },
    UploadTicket: UPLOAD_TICKET_JSON_SCHEMA,
    WebhookSecret: WEBHOOK_SECRET_JSON_SCHEMA,
    Batch: BATCH_OBJECT_JSON_SCHEMA,
    BatchList: object({
      data: { type: 'array', items: { $ref: '#/components/schemas/Batch' } },
      next_cursor: nullable({ type: 'string' }),
    }),
    CreateBatchRequest: {
      ...requestSchema(batchRequestSchema(BATCH_LIMITS.defaultMaxItems)),
      description: 'items: 1–BATCH_MAX_ITEMS (default 1,000); each item exactly one of image_url, image_key',
    },
    Usage: USAGE_JSON_SCHEMA,
  };
}
