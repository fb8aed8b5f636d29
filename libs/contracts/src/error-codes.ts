/**
 * Machine-readable error codes of the HTTP API (shared/api/CONTRACT.md, "Errors") and the status each one answers
 * with. The table is the single source: the API's error filter, the OpenAPI document and the tests all read it.
 */
export const ErrorCode = {
  InvalidRequest: 'invalid_request',
  UnknownField: 'unknown_field',
  OutOfRange: 'out_of_range',
  InstructionContainsSpecialToken: 'instruction_contains_special_token',
  InvalidCursor: 'invalid_cursor',
  Unauthorized: 'unauthorized',
  NotFound: 'not_found',
  IdempotencyConflict: 'idempotency_conflict',
  IdempotencyInProgress: 'idempotency_in_progress',
  NotCancelable: 'not_cancelable',
  /**
   * Not in the contract's 409 row (named like `not_cancelable`): POST /v1/edits/{id}/webhooks/replay when the edit
   * has no webhook URL or no `edit.completed` was sent yet; the message says which.
   */
  NotReplayable: 'not_replayable',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  InvalidImage: 'invalid_image',
  ImageTooLarge: 'image_too_large',
  UnsupportedAspectRatio: 'unsupported_aspect_ratio',
  UrlNotAllowed: 'url_not_allowed',
  UrlFetchFailed: 'url_fetch_failed',
  RateLimited: 'rate_limited',
  QueueFull: 'queue_full',
  /** Not in the contract's 4xx table: every unexpected failure answers 500 with this code. */
  InternalError: 'internal_error',
  /** Not in the contract's 4xx table: a dependency (Redis, S3) did not answer. */
  ServiceUnavailable: 'service_unavailable',
  /**
   * Only an edit's `error.code`, never an HTTP answer: a graph produced NaN or ±Inf (e.g. fp16 overflow on a GPU),
   * so the edit failed instead of returning a black image (docs/MODEL.md §20). Not retried: the same input and
   * weights give the same numbers.
   */
  ModelNumerics: 'model_numerics',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  unknown_field: 400,
  out_of_range: 400,
  instruction_contains_special_token: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  not_found: 404,
  idempotency_conflict: 409,
  idempotency_in_progress: 409,
  not_cancelable: 409,
  not_replayable: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_image: 422,
  image_too_large: 422,
  unsupported_aspect_ratio: 422,
  url_not_allowed: 422,
  url_fetch_failed: 422,
  rate_limited: 429,
  queue_full: 429,
  internal_error: 500,
  service_unavailable: 503,
  model_numerics: 500,
};

export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/** The body of every 4xx/5xx answer. `param` names the offending field, or is null. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; param: string | null };
}
