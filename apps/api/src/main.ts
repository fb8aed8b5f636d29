import type { AddressInfo } from 'node:net';
import { loadConfig, type AppConfig } from '@step1x/config';
import type { ReadinessCheck } from './api-deps';
import { createApiApp } from './create-api-app';
import { createApiDeps } from './api-runtime';

export interface RunningApi {
  /** `http://host:port`, with a wildcard bind shown as 127.0.0.1. */
  url: string;
  /** Stops taking requests, then closes every client. */
  close(): Promise<void>;
}

export interface RunApiOptions {
  /** Create the bucket when absent (local s3rver). @defaultValue false */
  ensureBucket?: boolean;
  /** Checked by /readyz besides Redis and S3 (embedded mode: the local worker). @defaultValue [] */
  readiness?: ReadinessCheck[];
}

/** The API on HOST:PORT with real Redis and S3 from the config: ROLE=api here, and the API half of ROLE=all. */
export async function runApiServer(config: AppConfig, options: RunApiOptions = {}): Promise<RunningApi> {
  const runtime = await createApiDeps(config, { ensureBucket: options.ensureBucket ?? false });
  try {
    runtime.deps.readiness = [...(runtime.deps.readiness ?? []), ...(options.readiness ?? [])];
    const app = await createApiApp(config, runtime.deps);
    try {
      await app.listen({ port: config.server.port, host: config.server.host });
    } catch (error) {
      await app.close().catch(() => undefined);
      throw error;
    }
    const { port } = app.getHttpServer().address() as AddressInfo;
    const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      close: async () => {
        await app.close();
        await runtime.close();
      },
    };
  } catch (error) {
    await runtime.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The production entry point of an API process (`node apps/api/dist/main.js`; ROLE is ignored): it loads only the
 * API and the libraries it uses, never the CLI, the graph builder or the local-services spawner
 * (docs/ARCHITECTURE.md, "Package boundaries"). `npx step1x start` is the local and development launcher.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  let api: RunningApi | null = null;
  let stopping = false;
  // Listening before the server starts: a SIGTERM while booting exits cleanly instead of by default.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: shutting down`);
    Promise.resolve(api?.close()).then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  api = await runApiServer(config);
  console.log(`API listening on ${api.url}`);
}

if (require.main === module) {
  main().catch((error: Error) => {
    const code = (error as { code?: unknown }).code;
    console.error(`API failed to start${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`);
    process.exit(1);
  });
}
