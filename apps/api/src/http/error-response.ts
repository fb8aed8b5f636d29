import { ApiError, ErrorCode, ERROR_STATUS, type ErrorBody } from '@step1x/contracts';
import { isRedisUnavailableError } from '@step1x/edit-store';
import { StorageError } from '@step1x/storage';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Status → code for errors raised by the framework (Nest, Fastify, @fastify/multipart), which carry no code. */
const CODE_FOR_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.InvalidRequest,
  401: ErrorCode.Unauthorized,
  404: ErrorCode.NotFound,
  406: ErrorCode.UnsupportedMediaType, // @fastify/multipart: "the request is not multipart"
  413: ErrorCode.PayloadTooLarge,
  414: ErrorCode.InvalidRequest, // Fastify: a path parameter longer than the router allows
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  503: ErrorCode.ServiceUnavailable,
};

const MESSAGE_FOR_CODE: Partial<Record<ErrorCode, string>> = {
  payload_too_large: 'the request body is too large',
  unsupported_media_type: 'use Content-Type application/json or multipart/form-data',
  not_found: 'no such route',
  unauthorized: 'missing or invalid API key',
};

/** `Retry-After` of a 503: a dependency outage (a Redis restart, an S3 blip) is usually over within seconds. */
export const DEPENDENCY_RETRY_AFTER_S = 5;

/** Which dependency an error says is unreachable (not a bad request, not our bug), or null. */
function unavailableDependencyOf(error: unknown): string | null {
  if (error instanceof StorageError && error.code === 'storage_unavailable') return 'object storage';
  if (isRedisUnavailableError(error)) return 'the store of record';
  return null;
}

function statusOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const candidate = error as { statusCode?: unknown; status?: unknown; getStatus?: unknown };
  if (typeof candidate.getStatus === 'function') return Number((candidate.getStatus as () => number).call(error));
  if (typeof candidate.statusCode === 'number') return candidate.statusCode;
  return null;
}

/**
 * Any thrown value → the contract's error shape. `ApiError` passes through; framework errors are mapped by their
 * status (body limit → 413, JSON parse → 400, unknown content type → 415); Redis or S3 out of reach is a 503; anything
 * else is a 500 whose details stay in the log. Every 503 tells the client when to retry (`Retry-After`).
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  const response = mapError(error);
  if (response.status === 503 && !Object.keys(response.headers).some((h) => h.toLowerCase() === 'retry-after')) {
    response.headers = { ...response.headers, 'Retry-After': String(DEPENDENCY_RETRY_AFTER_S) };
  }
  return response;
}

function mapError(error: unknown): ErrorResponse {
  if (error instanceof ApiError) {
    return { status: error.status, body: error.toBody(), headers: { ...error.headers } };
  }
  const dependency = unavailableDependencyOf(error);
  if (dependency) {
    return {
      status: ERROR_STATUS[ErrorCode.ServiceUnavailable],
      body: {
        error: {
          code: ErrorCode.ServiceUnavailable,
          message: `${dependency} is unavailable; retry later`,
          param: null,
        },
      },
      headers: {},
    };
  }
  const status = statusOf(error);
  if (status !== null && status >= 400 && status < 500) {
    const code = CODE_FOR_STATUS[status] ?? ErrorCode.InvalidRequest;
    const detail =
      error instanceof Error && status === 400
        ? error.message
        : status === 414
          ? 'a path parameter is too long'
          : MESSAGE_FOR_CODE[code];
    const headers: Record<string, string> = code === ErrorCode.Unauthorized ? { 'WWW-Authenticate': 'Bearer' } : {};
    return {
      status: ERROR_STATUS[code],
      body: { error: { code, message: detail ?? 'invalid request', param: null } },
      headers,
    };
  }
  const code = status === 503 ? ErrorCode.ServiceUnavailable : ErrorCode.InternalError;
  return {
    status: ERROR_STATUS[code],
    body: {
      error: {
        code,
        message: code === 'internal_error' ? 'internal error' : 'a dependency is unavailable',
        param: null,
      },
    },
    headers: {},
  };
}
