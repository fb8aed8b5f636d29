import { createParamDecorator, Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorCode } from '@step1x/contracts';
import type { RateLimiter, RateLimitWindow } from '@step1x/edit-store';
import { DEPS } from '../api-deps';

/** Set by BearerAuthGuard: the sha256 of the request's API key, the identity every limit counts against. */
export type KeyedRequest = FastifyRequest & { apiKeyId?: string };

/** The window a limit advertises, for `RateLimit-Policy`. */
const WINDOW_S = { requests: 1, edits: 60 } as const;

/**
 * The per-API-key limits of CONTRACT.md "Fair scheduling and limits", counted in Redis (so every API replica
 * shares them) through the `RateLimiter` port. Every answer to an authenticated `/v1` request carries the
 * RateLimit fields of draft-ietf-httpapi-ratelimit-headers-06 (`RateLimit-Limit`, `-Remaining`, `-Reset` in delta
 * seconds, `-Policy`) for the limit closest to exhaustion; a refusal is 429 `rate_limited` with `Retry-After`.
 */
@Injectable()
export class RateLimits {
  constructor(@Inject(DEPS.rateLimiter) private readonly limiter: RateLimiter) {}

  /** One request of `apiKeyId`: called by the auth guard for every authenticated route. */
  async admitRequest(apiKeyId: string, reply: FastifyReply): Promise<void> {
    const window = await this.limiter.consumeRequest(apiKeyId);
    this.advertise(reply, window, 'requests');
    if (!window.allowed) throw refusal(window, `more than ${window.limit} requests per second with this API key`);
  }

  /**
   * `count` created edits (a batch counts each item) of `apiKeyId` against RATE_LIMIT_EDITS_PER_MIN; throws 429
   * `rate_limited` when over. Pass the reply to have its RateLimit fields show this limit when it is the tighter one.
   */
  async consumeEdits(apiKeyId: string, tenantId: string, count: number, reply?: FastifyReply): Promise<void> {
    const window = await this.limiter.consumeEdits(apiKeyId, count);
    if (reply) this.advertise(reply, window, 'edits');
    if (!window.allowed) {
      const what = count > window.limit ? `${count} edits at once exceed` : 'this would exceed';
      throw refusal(
        window,
        `${what} the limit of ${window.limit} edits per minute of this API key (tenant ${tenantId})`,
      );
    }
  }

  /**
   * Gives back edits counted by `consumeEdits` for a request that created none (refused as invalid, or failed), so
   * the limit counts created edits. The reply's fields follow when they show the edits window.
   */
  async refundEdits(apiKeyId: string, count: number, reply?: FastifyReply): Promise<void> {
    const window = await this.limiter.refundEdits(apiKeyId, count);
    if (reply?.getHeader('RateLimit-Policy') === `${window.limit};w=${WINDOW_S.edits}`) {
      void reply.headers({ 'RateLimit-Remaining': String(window.remaining) });
    }
  }

  private advertise(reply: FastifyReply, window: RateLimitWindow, limit: keyof typeof WINDOW_S): void {
    if (window.limit === 0) return; // this limit is off (RATE_LIMIT_*=0): nothing to advertise
    const shown = Number(reply.getHeader('RateLimit-Remaining'));
    // Several limits apply to one request: show the one closest to exhaustion (draft-06, section 5.3 examples).
    if (reply.hasHeader('RateLimit-Remaining') && Number.isFinite(shown) && shown < window.remaining) return;
    void reply.headers({
      'RateLimit-Limit': String(window.limit),
      'RateLimit-Remaining': String(window.remaining),
      'RateLimit-Reset': String(secondsUntil(window.resetMs)),
      'RateLimit-Policy': `${window.limit};w=${WINDOW_S[limit]}`,
    });
  }
}

function secondsUntil(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

function refusal(window: RateLimitWindow, message: string): ApiError {
  return new ApiError(ErrorCode.RateLimited, `${message}; retry later`, {
    headers: {
      'Retry-After': String(Math.max(1, secondsUntil(window.resetMs))),
      'RateLimit-Limit': String(window.limit),
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': String(secondsUntil(window.resetMs)),
    },
  });
}

/** The authenticated request's API key id (sha256 of the key), for `RateLimits.consumeEdits`. */
export const ApiKeyId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const apiKeyId = context.switchToHttp().getRequest<KeyedRequest>().apiKeyId;
  if (!apiKeyId) throw new ApiError(ErrorCode.Unauthorized, 'not authenticated');
  return apiKeyId;
});
