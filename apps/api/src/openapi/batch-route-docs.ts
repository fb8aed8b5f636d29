import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { ERROR_STATUS, type ErrorCode } from '@step1x/contracts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** One documented response per status, listing the contract's codes it may carry (as route-docs.ts does). */
function errors(...codes: ErrorCode[]): MethodDecorator[] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'unauthorized' as const, 'internal_error' as const, 'service_unavailable' as const]) {
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  }
  return [...byStatus].map(([status, list]) =>
    ApiResponse({ status, description: `\`${list.join('`, `')}\``, schema: ref('Error') }),
  );
}

const batchId = ApiParam({ name: 'id', description: 'batch id (`batch_<ulid>`)' });
const paging = [
  ApiQuery({ name: 'limit', required: false, description: '1–100, default 20' }),
  ApiQuery({ name: 'cursor', required: false, description: 'opaque `next_cursor` of the previous page of this list' }),
];

export const CreateBatchDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Create a batch of edits',
      description:
        'JSON only, body up to `MAX_BATCH_BODY_BYTES` (4 MB). 1–`BATCH_MAX_ITEMS` items; the whole batch is validated ' +
        'first and one bad item rejects it, named in `param` (`items[17].instruction`). `image_key` items are checked ' +
        'against their upload grant, `image_url` items against the egress guard, and fetched afterwards (a failed ' +
        'fetch fails that item with `url_fetch_failed`). Every item becomes an edit with `batch_id` and `custom_id`.',
    }),
    ApiHeader({ name: 'Idempotency-Key', required: false, description: '≤ 255 chars, per tenant, kept 24 h' }),
    ApiResponse({ status: 202, description: 'accepted; `Location: /v1/batches/{id}`', schema: ref('Batch') }),
    ...errors(
      'invalid_request', 'unknown_field', 'out_of_range', 'instruction_contains_special_token',
      'idempotency_conflict', 'idempotency_in_progress', 'payload_too_large', 'unsupported_media_type',
      'url_not_allowed', 'url_fetch_failed', 'queue_full', 'rate_limited',
    ), // prettier-ignore
  );

export const ListBatchesDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'List batches, newest first (keyset pagination)' }),
    ...paging,
    ApiResponse({ status: 200, schema: ref('BatchList') }),
    ...errors('invalid_request', 'unknown_field', 'out_of_range', 'invalid_cursor'),
  );

export const GetBatchDoc = () =>
  applyDecorators(
    ApiOperation({ summary: 'Get a batch (`results_url` is signed afresh on every read once it is finished)' }),
    batchId,
    ApiResponse({ status: 200, schema: ref('Batch') }),
    ...errors('not_found'),
  );

export const ListBatchEditsDoc = () =>
  applyDecorators(
    ApiOperation({ summary: "A batch's edits, newest first (same paging as GET /v1/edits)" }),
    batchId,
    ApiQuery({ name: 'status', required: false, description: 'comma-separated statuses, e.g. `failed`' }),
    ...paging,
    ApiResponse({ status: 200, schema: ref('EditList') }),
    ...errors('invalid_request', 'unknown_field', 'out_of_range', 'invalid_cursor', 'not_found'),
  );

export const CancelBatchDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Cancel a batch',
      description:
        'Queued items are canceled at once, running ones as for one edit; the batch ends `canceled` once every item ' +
        'is terminal. 409 `not_cancelable` once completed.',
    }),
    batchId,
    ApiResponse({ status: 200, schema: ref('Batch') }),
    ...errors('not_found', 'not_cancelable'),
  );

export const GetUsageDoc = () =>
  applyDecorators(
    ApiOperation({
      summary: "The caller's usage per UTC day (every day of the range, zeros included)",
      description: 'Counted when each edit reaches its terminal status, from its receipt (`compute`, `output`).',
    }),
    ApiQuery({ name: 'from', required: true, description: 'first day, `YYYY-MM-DD` (UTC)' }),
    ApiQuery({ name: 'to', required: true, description: 'last day, `YYYY-MM-DD`, at most 366 days after `from`' }),
    ApiResponse({ status: 200, schema: ref('Usage') }),
    ...errors('invalid_request', 'unknown_field', 'out_of_range'),
  );
