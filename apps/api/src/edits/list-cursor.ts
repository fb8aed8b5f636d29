import { ApiError, ErrorCode, isEditId } from '@step1x/contracts';
import type { EditListPosition } from '@step1x/edit-store';

const VERSION = 1;

/** Opaque keyset cursor over (created_at, id): base64url of a small versioned JSON. */
export function encodeListCursor(position: EditListPosition): string {
  return Buffer.from(JSON.stringify({ v: VERSION, t: position.createdAtMs, id: position.id })).toString('base64url');
}

/** @throws ApiError 400 `invalid_cursor` for anything `encodeListCursor` did not make. */
export function decodeListCursor(cursor: string): EditListPosition {
  const invalid = () => new ApiError(ErrorCode.InvalidCursor, 'the cursor is not valid', { param: 'cursor' });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const value = parsed as { v?: unknown; s?: unknown; t?: unknown; id?: unknown };
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    value.v !== VERSION ||
    // A scoped cursor belongs to a batch route (batches/batch-cursor.ts), not to this list.
    value.s !== undefined ||
    typeof value.t !== 'number' ||
    !Number.isSafeInteger(value.t) ||
    value.t < 0 ||
    typeof value.id !== 'string' ||
    !isEditId(value.id)
  ) {
    throw invalid();
  }
  return { createdAtMs: value.t, id: value.id };
}
