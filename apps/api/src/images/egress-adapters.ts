import { ApiError, ErrorCode } from '@step1x/contracts';
import { EgressError, redactUrl, type EgressGuard } from '@step1x/egress';
import type { ImageFetcher, UrlChecker } from '../api-deps';

export interface EgressImageFetcherOptions {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/** The guard's errors already carry the contract's codes (url_not_allowed, url_fetch_failed, payload_too_large). */
function toApiError(error: unknown, param: string): unknown {
  if (!(error instanceof EgressError)) return error;
  return new ApiError(error.code, error.message, { param, cause: error });
}

/** `image_url` downloads through the egress guard: every hop re-checked, bounded in time and bytes. */
export class EgressImageFetcher implements ImageFetcher {
  constructor(
    private readonly guard: Pick<EgressGuard, 'fetch'>,
    private readonly options: EgressImageFetcherOptions,
  ) {}

  async fetch(url: string): Promise<{ bytes: Buffer; contentType: string | null }> {
    let response;
    try {
      response = await this.guard.fetch(url, {
        timeoutMs: this.options.timeoutMs,
        maxBytes: this.options.maxBytes,
        followRedirects: true,
        maxRedirects: this.options.maxRedirects,
        headers: { accept: 'image/*' },
      });
    } catch (error) {
      throw toApiError(error, 'image_url');
    }
    if (response.status < 200 || response.status > 299) {
      throw new ApiError(ErrorCode.UrlFetchFailed, `${redactUrl(response.url)} answered HTTP ${response.status}`, {
        param: 'image_url',
      });
    }
    const type = response.headers['content-type'];
    return { bytes: response.body, contentType: typeof type === 'string' ? type : null };
  }
}

/** Refuses a `webhook_url` the guard would refuse at delivery, so the client learns it now (422). */
export class EgressUrlChecker implements UrlChecker {
  constructor(private readonly guard: Pick<EgressGuard, 'checkUrl'>) {}

  async check(url: string): Promise<void> {
    try {
      await this.guard.checkUrl(url);
    } catch (error) {
      throw toApiError(error, 'webhook_url');
    }
  }
}
