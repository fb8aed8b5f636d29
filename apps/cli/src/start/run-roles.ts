import { runApiServer, type RunningApi } from '@step1x/api';
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
  const bootWorker = async () => {
    const logger = createConsoleLogger(config.server.logLevel);
    // Building the tiny models the first time takes a while: the API listens meanwhile (readiness waits).
    const modelsDir = localMode
      ? await localModelsDir(config.worker.modelsDir, (line) => logger.warn(line))
      : undefined;
    return (worker = await startWorker(config, { logger, modelsDir, allowRandomWeights: localMode || undefined }));
  };
  const workerStarting = role === 'api' ? Promise.resolve(null) : bootWorker();
  // Keep a failed start from surfacing as an unhandled rejection while the API is still being built.
  workerStarting.catch(() => undefined);

  let api: RunningApi | null = null;
  try {
    if (role !== 'worker') {
      const workerReady = {
        name: 'worker',
        check: async () => {
          if (!worker) throw new Error('the local worker is still loading and warming its models');
        },
      };
      api = await runApiServer(config, { ensureBucket: localMode, readiness: role === 'all' ? [workerReady] : [] });
    }
    await workerStarting;
  } catch (error) {
    await api?.close().catch(() => undefined);
    const started = await workerStarting.catch(() => null);
    await started?.close(0).catch(() => undefined);
    throw error;
  }

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      // The API stops taking requests while the worker finishes (or hands back) what it runs.
      await Promise.all([api?.close(), worker?.close()]);
    })());
  return { apiUrl: api?.url ?? null, worker, stop };
}
