import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toErrorResponse } from '../http/error-response';

/**
 * OpenAI's error `type`s. The official clients pick their exception class from the HTTP status
 * (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 409 ConflictError, 422 UnprocessableEntityError,
 * 429 RateLimitError, ≥ 500 InternalServerError); `type` and `code` ride along on the exception.
 */
export type OpenAiErrorType =
  'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'server_error';

export interface OpenAiErrorBody {
  error: {
    message: string;
    type: OpenAiErrorType;
    param: string | null;
    code: string;
    /** Our edits this request created, where some exist (a 504 past the wait ceiling, a failed edit). */
    edit_ids?: string[];
  };
}

export interface OpenAiErrorResponse {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

/**
 * Tells both official clients not to retry (they retry 408, 409, 429 and 5xx by default, and honour
 * `x-should-retry`): a retry without an Idempotency-Key would create the edits again.
 */
export const NO_RETRY = { 'x-should-retry': 'false' } as const;

/** A refusal that only the OpenAI-compatible routes make (the rest of the API has no such code). */
export class OpenAiRouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { param?: string | null; editIds?: string[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'OpenAiRouteError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function openAiErrorType(status: number): OpenAiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * Any thrown value → OpenAI's error shape `{ error: { message, type, param, code } }`. Our own failures keep their
 * status, code, param and headers (`Retry-After`, `WWW-Authenticate`) exactly as `toErrorResponse` maps them for the
 * rest of the API; only `type` is added.
 */
export function toOpenAiErrorResponse(exception: unknown): OpenAiErrorResponse {
  if (exception instanceof OpenAiRouteError) {
    const { param = null, editIds, headers = {} } = exception.options;
    return {
      status: exception.status,
      body: {
        error: {
          message: exception.message,
          type: openAiErrorType(exception.status),
          param,
          code: exception.code,
          ...(editIds ? { edit_ids: editIds } : {}),
        },
      },
      headers,
    };
  }
  const ours = toErrorResponse(exception);
  const { code, message, param } = ours.body.error;
  return {
    status: ours.status,
    body: { error: { message, type: openAiErrorType(ours.status), param, code } },
    headers: ours.headers,
  };
}

/** Bound to the OpenAI-compatible controller only (`@UseFilters`): every other route keeps the contract's shape. */
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('OpenAiError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const response = toOpenAiErrorResponse(exception);
    if (response.status >= 500 && !(exception instanceof OpenAiRouteError)) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (reply.sent) return;
    void reply.status(response.status).headers(response.headers).type('application/json').send(response.body);
  }
}
