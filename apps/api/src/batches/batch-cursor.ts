import { ApiError, ErrorCode, isBatchId, isEditId } from '@step1x/contracts';
import type { EditListPosition } from '@step1x/edit-store';

const VERSION = 1;

/**
 * Keyset cursors of the batch routes: like GET /v1/edits's, plus the scope they were made for (`batches`, or
 * `batch:<id>` for one batch's edits), so a cursor from another route or another batch is a 400 `invalid_cursor`
 * rather than a page of something else. GET /v1/edits refuses any cursor that carries a scope.
 */
export function encodeScopedCursor(scope: string, position: EditListPosition): string {
  return Buffer.from(JSON.stringify({ v: VERSION, s: scope, t: position.createdAtMs, id: position.id })).toString(
    'base64url',
  );
}

/** @throws ApiError 400 `invalid_cursor` for anything `encodeScopedCursor(scope, …)` did not make. */
export function decodeScopedCursor(scope: string, cursor: string): EditListPosition {
  const invalid = () =>
    new ApiError(ErrorCode.InvalidCursor, 'the cursor is not valid for this list', { param: 'cursor' });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let value: { v?: unknown; s?: unknown; t?: unknown; id?: unknown };
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof value;
  } catch {
    throw invalid();
  }
  const idOk = typeof value?.id === 'string' && (scope === 'batches' ? isBatchId(value.id) : isEditId(value.id));
  if (
    typeof value !== 'object' ||
    value === null ||
    value.v !== VERSION ||
    value.s !== scope ||
    typeof value.t !== 'number' ||
    !Number.isSafeInteger(value.t) ||
    value.t < 0 ||
    !idOk
  ) {
    throw invalid();
  }
  return { createdAtMs: value.t, id: value.id as string };
}
