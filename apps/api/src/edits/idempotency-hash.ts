import { createHash } from 'node:crypto';
import { ApiError, ErrorCode, type EditRequestFields } from '@step1x/contracts';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** JSON with object keys sorted at every depth, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The request identity behind an Idempotency-Key (CONTRACT.md): tenant + route + the parsed fields with defaults
 * applied + sha256 of the image bytes. Not the raw body: multipart boundaries and JSON spacing do not matter, and
 * `{}` equals `{"steps": 28}`.
 */
export function idempotencyRequestHash(input: {
  tenantId: string;
  route: string;
  fields: EditRequestFields;
  imageSha256: string;
}): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

/** @throws ApiError 400 for an empty or over-long key. Undefined header → no idempotency. */
export function readIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const key = Array.isArray(header) ? header.join(',') : header;
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new ApiError(
      ErrorCode.InvalidRequest,
      `Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters`,
      {
        param: 'Idempotency-Key',
      },
    );
  }
  return key;
}
