import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { ERROR_STATUS, type ErrorCode } from '@step1x/contracts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** One documented response per status, listing the contract's codes it may carry. */
export function errors(...codes: ErrorCode[]): MethodDecorator[] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'unauthorized' as const, 'internal_error' as const]) {
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  }
  return [...byStatus].map(([status, list]) =>
    ApiResponse({ status, description: `\`${list.join('`, `')}\``, schema: ref('Error') }),
  );
}

const editId = ApiParam({ name: 'id', description: 'edit id (`edit_<ulid>`)' });

export const CreateEditDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Create an edit',
      description:
        'Multipart (`image` file + fields) or JSON (`image_url` or `image_key`); exactly one image source. The image ' +
        'is fetched and validated before the answer. 202 with the queued edit and `Location`, or 200 once terminal ' +
        'when `Prefer: wait=N` (N ≤ 60, larger is clamped and answered with `Preference-Applied`).',
    }),
    ApiHeader({ name: 'Idempotency-Key', required: false, description: '≤ 255 chars, per tenant, kept 24 h' }),
    ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: hold up to N s for a terminal status' }),
    ApiResponse({ status: 202, description: 'accepted; `Location: /v1/edits/{id}`', schema: ref('Edit') }),
    ApiResponse({ status: 200, description: 'terminal within `Prefer: wait`', schema: ref('Edit') }),
    ...errors(
      'invalid_request', 'unknown_field', 'out_of_range', 'instruction_contains_special_token',
      'idempotency_conflict', 'idempotency_in_progress', 'payload_too_large', 'unsupported_media_type',
      'invalid_image', 'image_too_large', 'unsupported_aspect_ratio', 'url_not_allowed', 'url_fetch_failed',
      'queue_full', 'rate_limited',
    ), // prettier-ignore
  );

export const ListEditsDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'List edits, newest first (keyset pagination over created_at, id)' }),
    ApiQuery({ name: 'status', required: false, description: 'comma-separated statuses, e.g. `queued,running`' }),
    ApiQuery({ name: 'limit', required: false, description: '1–100, default 20' }),
    ApiQuery({ name: 'cursor', required: false, description: 'opaque `next_cursor` of the previous page' }),
    ApiResponse({ status: 200, schema: ref('EditList') }),
    ...errors('invalid_request', 'unknown_field', 'out_of_range', 'invalid_cursor'),
  );

export const GetEditDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'Get an edit (the output URL is signed afresh on every read)' }),
    editId,
    ApiResponse({ status: 200, schema: ref('Edit') }),
    ...errors('not_found'),
  );

export const CancelEditDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Cancel an edit',
      description: 'Queued: `canceled` at once. Running: `cancel_requested: true` until the worker stops.',
    }),
    editId,
    ApiResponse({ status: 200, schema: ref('Edit') }),
    ...errors('not_found', 'not_cancelable'),
  );

export const CreateUploadDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'Get a presigned PUT for an input image (15 min); use its `image_key` in POST /v1/edits' }),
    ApiResponse({ status: 201, schema: ref('UploadTicket') }),
    ...errors('invalid_request', 'unknown_field', 'out_of_range', 'payload_too_large', 'unsupported_media_type'),
  );

export const WebhookSecretDoc = () =>
  applyDecorators(
    ApiOperation({ summary: "The tenant's Standard Webhooks signing secret" }),
    ApiResponse({ status: 200, schema: ref('WebhookSecret') }),
    ...errors(),
  );
