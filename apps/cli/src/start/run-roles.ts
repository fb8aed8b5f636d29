import type { AddressInfo } from 'node:net';
import { createApiApp, createApiDeps, type ApiRuntime } from '@step1x/api';
import type { AppConfig } from '@step1x/config';
import { createConsoleLogger, startWorker, type RunningWorker } from '@step1x/worker';
import { localModelsDir } from './local-models';

export interface RunningRoles {
  /** `http://host:port` of the API, or null for ROLE=worker. */
  apiUrl: string | null;
  worker: RunningWorker | null;
  /** HTTP first (no new requests), the worker drained within SHUTDOWN_GRACE_MS, then every client. Idempotent. */
  stop(): Promise<void>;
}

export interface RunRolesOptions {
  /**
   * Local mode (no REDIS_URL): create the bucket when absent (local s3rver), and let the worker fall back to the
   * tiny random-weight models when MODELS_DIR is unset. @defaultValue false
   */
  localMode?: boolean;
}

/**
 * Starts what ROLE asks for. With both, the API listens while the worker warms its models, and /readyz says
 * `worker: …` until the models are warm (CONTRACT.md: in embedded mode readiness includes the local worker).
 */
export async function runRoles(config: AppConfig, options: RunRolesOptions = {}): Promise<RunningRoles> {
  const role = config.server.role;
  const localMode = options.localMode ?? false;
  let worker: RunningWorker | null = null;
  const startLocalWorker = async () => {
    const logger = createConsoleLogger(config.server.logLevel);
    // Building the tiny models the first time takes a while: the API listens meanwhile (readiness waits).
    const modelsDir = localMode
      ? await localModelsDir(config.worker.modelsDir, (line) => logger.warn(line))
      : undefined;
    return (worker = await startWorker(config, { logger, modelsDir, allowRandomWeights: localMode || undefined }));
  };
  const workerStarting = role === 'api' ? Promise.resolve(null) : startLocalWorker();
  // Keep a failed start from surfacing as an unhandled rejection while the API is still being built.
  workerStarting.catch(() => undefined);

  let runtime: ApiRuntime | null = null;
  let app: Awaited<ReturnType<typeof createApiApp>> | null = null;
  let apiUrl: string | null = null;
  try {
    if (role !== 'worker') {
      runtime = await createApiDeps(config, { ensureBucket: localMode });
      if (role === 'all') {
        runtime.deps.readiness = [
          ...(runtime.deps.readiness ?? []),
          {
            name: 'worker',
            check: async () => {
              if (!worker) throw new Error('the local worker is still loading and warming its models');
            },
          },
        ];
      }
      app = await createApiApp(config, runtime.deps);
      await app.listen({ port: config.server.port, host: config.server.host });
      const { port } = app.getHttpServer().address() as AddressInfo;
      const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
      apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    }
    await workerStarting;
  } catch (error) {
    await app?.close().catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    const started = await workerStarting.catch(() => null);
    await started?.close(0).catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      // The API stops taking requests while the worker finishes (or hands back) what it runs.
      await Promise.all([app?.close(), worker?.close()]);
      await runtime?.close();
    })());
  return { apiUrl, worker, stop };
}
