import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { EditRepository } from '@step1x/edit-store';
import { DEPS, type ReadinessCheck } from '../api-deps';
import { MetricsRegistry } from '../metrics/metrics-registry';

const CHECK_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/** Probes and metrics: no API key, not in the OpenAPI document. */
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @Inject(DEPS.edits) private readonly edits: EditRepository,
    @Inject(DEPS.pingObjectStore) private readonly pingObjectStore: () => Promise<void>,
    @Inject(DEPS.readiness) private readonly readiness: ReadinessCheck[],
    private readonly metrics: MetricsRegistry,
  ) {}

  /** The process is up (liveness). */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Redis and S3 answer, and every extra check passes (the embedded worker's models are warm). */
  @Get('readyz')
  async readyz(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: string; checks: Record<string, string> }> {
    const named: Array<[string, () => Promise<void>]> = [
      ['redis', () => this.edits.ping()],
      ['s3', () => this.pingObjectStore()],
      ...this.readiness.map((c): [string, () => Promise<void>] => [c.name, () => c.check()]),
    ];
    const results = await Promise.all(named.map(async ([name, check]) => [name, await probe(check)] as const));
    const checks = Object.fromEntries(results);
    const ready = results.every(([, result]) => result === 'ok');
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metricsText(): Promise<string> {
    return this.metrics.render();
  }
}
