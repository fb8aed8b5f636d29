export * from './api-deps';
export * from './api-runtime';
export * from './create-api-app';
export { MetricsRegistry, Counter, Histogram, type GaugeSource } from './metrics/metrics-registry';
export { toErrorResponse, type ErrorResponse } from './http/error-response';
export { encodeListCursor, decodeListCursor } from './edits/list-cursor';
export { idempotencyRequestHash, canonicalJson } from './edits/idempotency-hash';
export { parsePreferWait } from './edits/prefer-wait';
export { buildOpenApiDocument } from './openapi/openapi-document';
