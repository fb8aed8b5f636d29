import { ERROR_STATUS, type ErrorBody, type ErrorCode } from './error-codes';

export interface ApiErrorOptions {
  /** The request field at fault (`seed`, `image_url`, a header name), or null when none is. */
  param?: string | null;
  /** Extra response headers, e.g. `Retry-After` on 429 or `WWW-Authenticate` on 401. */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

/** A failure the API answers with its own status and code; the status always comes from the contract's table. */
export class ApiError extends Error {
  readonly status: number;
  readonly param: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    Object.setPrototypeOf(this, new.target.prototype);
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, param: this.param } };
  }
}
