// Error codes are the contract's 422/413 codes, so the API can answer with `error.code` unchanged.
import { ErrorCode } from '@step1x/contracts';

export type EgressErrorCode =
  typeof ErrorCode.UrlNotAllowed | typeof ErrorCode.UrlFetchFailed | typeof ErrorCode.PayloadTooLarge;

export type UrlNotAllowedReason = 'invalid_url' | 'scheme' | 'address';
export type UrlFetchFailedReason = 'dns' | 'connect' | 'timeout' | 'too_many_redirects' | 'protocol' | 'aborted';

export abstract class EgressError extends Error {
  abstract readonly code: EgressErrorCode;

  constructor(
    message: string,
    /** The URL of the hop that failed. */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UrlNotAllowedError extends EgressError {
  readonly code = ErrorCode.UrlNotAllowed;

  constructor(
    readonly reason: UrlNotAllowedReason,
    url: string,
    message: string,
    /** The refused address, for `reason: 'address'`. */
    readonly address?: string,
  ) {
    super(message, url);
    this.name = 'UrlNotAllowedError';
  }
}

export class UrlFetchFailedError extends EgressError {
  readonly code = ErrorCode.UrlFetchFailed;

  constructor(
    readonly reason: UrlFetchFailedReason,
    url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, url, options);
    this.name = 'UrlFetchFailedError';
  }
}

export class PayloadTooLargeError extends EgressError {
  readonly code = ErrorCode.PayloadTooLarge;

  constructor(
    url: string,
    readonly limitBytes: number,
  ) {
    super(`response from ${redactUrl(url)} exceeds ${limitBytes} bytes`, url);
    this.name = 'PayloadTooLargeError';
  }
}

/** The URL without credentials or query, fit for messages that reach clients and logs. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
