import 'reflect-metadata';
import fastifyMultipart from '@fastify/multipart';
import { Logger, type LogLevel } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '@step1x/config';
import type { ApiDeps, Clock } from './api-deps';
import { ApiModule } from './api.module';
import { ApiErrorFilter, sendError } from './http/api-error.filter';
import {
  answerClientError,
  BATCH_BODY_ROUTE,
  depthLimitedJsonParser,
  installExpectHandling,
  requestEdgeChecks,
} from './http/http-edges';
import { toScalingSnapshot } from './internal/scaling.controller';
import { QuietBootLogger } from './http/quiet-boot-logger';
import { toErrorResponse } from './http/error-response';
import { MetricsRegistry } from './metrics/metrics-registry';
import { buildOpenApiDocument } from './openapi/openapi-document';

export interface CreateApiAppOptions {
  /** Nest log levels; false silences it. @defaultValue derived from LOG_LEVEL */
  logger?: LogLevel[] | false;
  /** @defaultValue () => new Date() */
  clock?: Clock;
  /** Share one registry with an embedded worker. @defaultValue a new one */
  metrics?: MetricsRegistry;
}

const LEVELS: Record<AppConfig['server']['logLevel'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
};

/** Multipart fields are small (the instruction is ≤ 2,000 code points, metadata ≤ 4 KB). */
const MULTIPART_FIELD_BYTES = 64 * 1024;

/**
 * Builds the HTTP API (NestJS on Fastify) around the given ports and returns it initialised but not listening:
 * `npm start`, `main.ts` and the e2e tests call `app.listen(...)` themselves. Seeds API_KEYS into the key store.
 */
export async function createApiApp(
  config: AppConfig,
  deps: ApiDeps,
  options: CreateApiAppOptions = {},
): Promise<NestFastifyApplication> {
  const metrics = options.metrics ?? new MetricsRegistry();
  metrics.addGauge({
    name: 'step1x_queue_depth',
    help: 'Edits waiting, by lane (delayed = waiting for a retry).',
    collect: async () => {
      const depth = await deps.jobQueue.depth();
      return (['interactive', 'batch', 'delayed'] as const).map((lane) => ({ labels: { lane }, value: depth[lane] }));
    },
  });
  metrics.addGauge({
    name: 'step1x_queue_backlog',
    help: 'Queued + delayed + running edits: the number the worker autoscaler divides by its target (docs/DEPLOY.md).',
    collect: async () => [{ labels: {}, value: toScalingSnapshot(await deps.jobQueue.load(), new Date()).backlog }],
  });
  const errorLogger = new Logger('ApiError');
  const adapter = new FastifyAdapter({
    // The largest route limit; every route but POST /v1/batches is held to MAX_JSON_BODY_BYTES (onRoute below).
    bodyLimit: Math.max(config.limits.maxJsonBodyBytes, config.batches.maxBodyBytes),
    logger: false,
    // The router's own refusals (malformed URL encoding, an over-long path parameter) and the HTTP parser's
    // (garbage, oversized headers, a body cut short) leave in the contract's shape too.
    frameworkErrors: (error: Error, _request: unknown, reply: FastifyReply) => sendError(reply, error, errorLogger),
    clientErrorHandler: answerClientError,
  });
  const openApi: { current: OpenAPIObject | null } = { current: null };
  const module = ApiModule.forRoot({ config, deps, metrics, openApi, clock: options.clock ?? (() => new Date()) });
  const levels = options.logger ?? LEVELS[config.server.logLevel];
  const logger =
    levels === false || config.server.logLevel === 'debug' ? levels : new QuietBootLogger({ logLevels: levels });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { logger, abortOnError: false });
  const fastify = app.getHttpAdapter().getInstance();
  app.useBodyParser('application/json', { bodyLimit: config.limits.maxJsonBodyBytes }, depthLimitedJsonParser(fastify));
  installExpectHandling(fastify.server, config.limits, config.batches.maxBodyBytes);
  fastify.addHook('onRequest', requestEdgeChecks(config.limits, config.batches.maxBodyBytes));
  // Nest registers its routes at init: each gets the JSON limit, POST /v1/batches its own (MAX_BATCH_BODY_BYTES).
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    route.bodyLimit =
      methods.includes(BATCH_BODY_ROUTE.method) && route.url === BATCH_BODY_ROUTE.url
        ? config.batches.maxBodyBytes
        : (route.bodyLimit ?? config.limits.maxJsonBodyBytes);
  });
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: config.limits.maxUploadBytes,
      files: 2,
      fields: 40,
      parts: 50,
      fieldSize: MULTIPART_FIELD_BYTES,
    },
  });
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{"error":')) {
      const code = (JSON.parse(payload) as { error?: { code?: string } }).error?.code;
      if (code) metrics.errors.inc({ code });
    }
    return payload;
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe(reply.elapsedTime / 1000, { route });
  });
  // Nest routes Fastify's own errors (body limit, JSON parse, content type) and unknown routes through this
  // filter too, so every failure leaves in the contract's shape.
  app.useGlobalFilters(new ApiErrorFilter());
  openApi.current = buildOpenApiDocument(app);
  await deps.apiKeys.seed(config.auth.apiKeys);
  await app.init();
  return app;
}

export { toErrorResponse };
