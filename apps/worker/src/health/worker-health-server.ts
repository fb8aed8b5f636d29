import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WorkerHealthState {
  /** Models loaded and warm, jobs being taken; false before and while stopping. */
  ready(): boolean;
  /** Rejects when Redis does not answer. */
  pingRedis(): Promise<void>;
  /** Prometheus text lines (counters of this process). */
  metrics(): string;
}

export interface WorkerHealthServer {
  readonly port: number;
  close(): Promise<void>;
}

const REDIS_PING_TIMEOUT_MS = 2000;

/**
 * The worker's health port (WORKER_HEALTH_PORT) for the image HEALTHCHECK and the k8s probes: `/healthz` 200 while
 * the process runs (liveness; not Redis, so a Redis outage does not restart every worker), `/readyz` 200 only when
 * the models are loaded and warm and Redis answers a PING within 2 s (503 with the reason otherwise), `/metrics`.
 */
export async function startWorkerHealthServer(
  host: string,
  port: number,
  state: WorkerHealthState,
): Promise<WorkerHealthServer> {
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') return send(405, { status: 'method_not_allowed' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/metrics') return send(200, state.metrics(), 'text/plain; version=0.0.4');
    if (path !== '/readyz') return send(404, { status: 'not_found' });
    if (!state.ready()) return send(503, { status: 'not_ready', models: 'loading or stopping' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PONG within ${REDIS_PING_TIMEOUT_MS} ms`)), REDIS_PING_TIMEOUT_MS);
    });
    Promise.race([state.pingRedis(), timeout])
      .then(
        () => send(200, { status: 'ready', models: 'warm', redis: 'ok' }),
        (error: unknown) => send(503, { status: 'not_ready', redis: (error as Error).message }),
      )
      .finally(() => clearTimeout(timer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
