import { EgressError, redactUrl, type EgressGuard } from '@step1x/egress';
import { EditInputError } from './image-editor.port';

export interface SourceUrlFetchOptions {
  /** IMAGE_FETCH_TIMEOUT_MS, MAX_UPLOAD_BYTES, IMAGE_FETCH_MAX_REDIRECTS: the same bounds as the API's image_url. */
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/**
 * A batch item's `image_url`, downloaded by the worker through the egress guard (every hop re-checked, the
 * connection pinned to the checked address, bounded in time and bytes). Anything but a 2xx with a body fails the
 * item (`EditInputError`, never retried) with the guard's code or `url_fetch_failed`.
 */
export function egressImageFetcher(guard: Pick<EgressGuard, 'fetch'>, options: SourceUrlFetchOptions) {
  return async (url: string): Promise<{ bytes: Buffer; contentType: string | null }> => {
    let response;
    try {
      response = await guard.fetch(url, {
        timeoutMs: options.timeoutMs,
        maxBytes: options.maxBytes,
        followRedirects: true,
        maxRedirects: options.maxRedirects,
        headers: { accept: 'image/*' },
      });
    } catch (error) {
      if (error instanceof EgressError) throw new EditInputError(error.code, error.message, { cause: error });
      throw error;
    }
    if (response.status < 200 || response.status > 299) {
      throw new EditInputError('url_fetch_failed', `${redactUrl(response.url)} answered HTTP ${response.status}`);
    }
    const type = response.headers['content-type'];
    return { bytes: response.body, contentType: typeof type === 'string' ? type : null };
  };
}
