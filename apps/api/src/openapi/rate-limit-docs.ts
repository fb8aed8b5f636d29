import type { OpenAPIObject } from '@nestjs/swagger';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });
const isoTime = { type: 'string', format: 'date-time' };
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** RateLimit fields as draft-ietf-httpapi-ratelimit-headers-06 defines them (docs/ARCHITECTURE.md "Rate limits"). */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': {
    description: 'Requests (or, on edit creation when tighter, edits) the API key may make per window.',
    schema: { type: 'integer', minimum: 1 },
  },
  'RateLimit-Remaining': {
    description: 'What is left of it in the current window.',
    schema: { type: 'integer', minimum: 0 },
  },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Policy': { description: 'The limit and its window, e.g. `100;w=1`.', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
};

const object = (properties: Record<string, object>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

const DELIVERY = object({
  webhook_id: { type: 'string', pattern: '^msg_[0-9A-HJKMNP-TV-Z]{26}$', description: 'the same on every attempt' },
  type: { type: 'string', description: 'event type, e.g. `edit.completed`' },
  attempt: { type: 'integer', minimum: 1 },
  status_code: nullable({ type: 'integer', description: 'HTTP status, or null when no answer came' }),
  error: nullable(object({ code: { type: 'string' }, message: { type: 'string' } })),
  duration_ms: { type: 'integer', minimum: 0 },
  at: isoTime,
  next_attempt_at: nullable(isoTime),
});

export const WEBHOOK_OPS_SCHEMAS = {
  Delivery: DELIVERY,
  DeliveryList: object({ data: { type: 'array', items: ref('Delivery') } }),
  WebhookReplay: object({
    webhook_id: { type: 'string' },
    type: { type: 'string', enum: ['edit.completed'] },
    attempt: { type: 'integer', minimum: 2, description: 'the attempt number this replay is recorded under' },
  }),
  WebhookSecretRotation: object({
    secret: { type: 'string', pattern: '^whsec_' },
    previous_expires_at: nullable(isoTime),
  }),
};

type DocumentedResponse = { description?: string; headers?: Record<string, unknown>; content?: unknown };
type Operation = { responses?: Record<string, DocumentedResponse> };

/**
 * Adds to every authenticated `/v1` operation what the rate limits add to its answers: the RateLimit fields on each
 * response (401 excepted: no key, nothing counted) and a 429 `rate_limited` with `Retry-After`; plus the webhook
 * operations' schemas.
 */
export function documentRateLimits(document: OpenAPIObject): void {
  document.components = {
    ...document.components,
    headers: { ...(document.components?.headers ?? {}), ...RATE_LIMIT_HEADERS },
    schemas: { ...(document.components?.schemas ?? {}), ...WEBHOOK_OPS_SCHEMAS },
  };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const operation of Object.values(item as Record<string, Operation>)) {
      if (typeof operation !== 'object' || operation === null || !operation.responses) continue;
      const responses = operation.responses;
      const tooMany = responses['429'];
      if (!tooMany) {
        responses['429'] = { description: '`rate_limited`', content: { 'application/json': { schema: ref('Error') } } };
      } else if (!tooMany.description?.includes('rate_limited')) {
        tooMany.description = `${tooMany.description ?? ''}, \`rate_limited\``.replace(/^, /, '');
      }
      for (const [status, response] of Object.entries(responses)) {
        if (status === '401') continue;
        response.headers = {
          ...(response.headers ?? {}),
          'RateLimit-Limit': header('RateLimit-Limit'),
          'RateLimit-Remaining': header('RateLimit-Remaining'),
          'RateLimit-Reset': header('RateLimit-Reset'),
          'RateLimit-Policy': header('RateLimit-Policy'),
          ...(status === '429' ? { 'Retry-After': header('Retry-After') } : {}),
        };
      }
    }
  }
}
