import { createParamDecorator, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError, ErrorCode } from '@step1x/contracts';
import { hashApiKey, type ApiKeyStore } from '@step1x/edit-store';
import type { FastifyReply } from 'fastify';
import { DEPS } from '../api-deps';
import { RateLimits } from '../rate-limits/rate-limits.service';

type AuthedRequest = FastifyRequest & { tenantId?: string; apiKeyId?: string };

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i;

/**
 * `Authorization: Bearer <key>`; the key's sha256 is looked up in Redis and names the tenant. The presented key's
 * request rate is counted first (RateLimits), so every answer to a request with a key carries the RateLimit
 * fields, a flood with a wrong key is limited like any other, and a Redis outage answers 503 at once (the limiter
 * refuses while the connection is down) instead of after the key lookup's reconnect retries.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(DEPS.apiKeys) private readonly apiKeys: ApiKeyStore,
    private readonly rateLimits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match) {
      throw new ApiError(ErrorCode.Unauthorized, 'send Authorization: Bearer <api key>', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    request.apiKeyId = hashApiKey(match[1]);
    await this.rateLimits.admitRequest(request.apiKeyId, context.switchToHttp().getResponse<FastifyReply>());
    const tenantId = await this.apiKeys.tenantForKey(match[1]);
    if (!tenantId) {
      throw new ApiError(ErrorCode.Unauthorized, 'the API key is not valid', {
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    request.tenantId = tenantId;
    return true;
  }
}

/** The authenticated tenant of the request (set by BearerAuthGuard). */
export const Tenant = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const tenantId = context.switchToHttp().getRequest<AuthedRequest>().tenantId;
  if (!tenantId) throw new ApiError(ErrorCode.Unauthorized, 'not authenticated');
  return tenantId;
});
