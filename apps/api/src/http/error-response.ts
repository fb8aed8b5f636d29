import { ApiError, ErrorCode, ERROR_STATUS, type ErrorBody } from '@step1x/contracts';

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

function statusOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const candidate = error as { statusCode?: unknown; status?: unknown; getStatus?: unknown };
  if (typeof candidate.getStatus === 'function') return Number((candidate.getStatus as () => number).call(error));
  if (typeof candidate.statusCode === 'number') return candidate.statusCode;
  return null;
}

/**
 * Any thrown value → the contract's error shape. `ApiError` passes through; framework errors are mapped by their
 * status (body limit → 413, JSON parse → 400, unknown content type → 415); anything else is a 500 whose details
 * stay in the log.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof ApiError) {
    return { status: error.status, body: error.toBody(), headers: { ...error.headers } };
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
