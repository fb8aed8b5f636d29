import { loadConfig, type AppConfig } from '@step1x/config';
import { createApiApp } from './create-api-app';
import { createApiDeps } from './api-runtime';

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Runs the API alone (ROLE=api): real Redis and S3 from the config, listening on HOST:PORT. */
export async function runApiServer(config: AppConfig): Promise<RunningApi> {
  const runtime = await createApiDeps(config);
  const app = await createApiApp(config, runtime.deps);
  await app.listen({ port: config.server.port, host: config.server.host });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  return {
    url: `http://${config.server.host}:${port}`,
    close: async () => {
      await app.close();
      await runtime.close();
    },
  };
}

if (require.main === module) {
  runApiServer(loadConfig(process.env)).then(
    (api) => {
      console.log(`API listening on ${api.url}`);
      const stop = () => void api.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
