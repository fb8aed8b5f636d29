import { loadConfig, type Env } from '@step1x/config';
import { createConsoleLogger, describeError, type WorkerLogger } from './worker-logger';
import { SHUTDOWN_MARGIN_MS, stopWithin } from './stop-within';
import { startWorker, type RunningWorker } from './worker-runtime';

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 if stopping failed); a second signal exits
 * at once with 1, so an operator can always get out.
 */
export function exitOnShutdownSignal(stop: () => Promise<void>, logger: WorkerLogger, deadlineMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: shutting down`);
    stopWithin(stop, deadlineMs).then(
      (outcome) => {
        if (outcome === 'timed_out') logger.error(`shutdown did not finish within ${deadlineMs} ms; exiting anyway`);
        process.exit(outcome === 'stopped' ? 0 : 1);
      },
      (error: unknown) => {
        logger.error(`shutdown failed: ${describeError(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * A worker process: config from the environment, models warm, then jobs until SIGTERM. This is the production
 * entry point (`node apps/worker/dist/main.js`; ROLE is ignored): it loads only the worker and the libraries it
 * uses, never the CLI, the graph builder or the local-services spawner (docs/ARCHITECTURE.md, "Package
 * boundaries"), so MODELS_DIR is required. `npx step1x start` is the local and development launcher.
 */
export async function runWorkerProcess(env: Env): Promise<RunningWorker> {
  const config = loadConfig(env);
  const logger = createConsoleLogger(config.server.logLevel);
  let worker: RunningWorker | null = null;
  // Listening before the models load: a SIGTERM while booting (a scale-in) exits cleanly instead of by default.
  exitOnShutdownSignal(
    async () => void (await worker?.close()),
    logger,
    config.worker.shutdownGraceMs + SHUTDOWN_MARGIN_MS,
  );
  worker = await startWorker(config, { logger });
  return worker;
}

if (require.main === module) {
  runWorkerProcess(process.env).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    console.error(`worker failed to start${typeof code === 'string' ? ` [${code}]` : ''}: ${describeError(error)}`);
    process.exit(1);
  });
}
