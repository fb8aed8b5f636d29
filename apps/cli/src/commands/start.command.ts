import { loadConfig, type AppConfig } from '@step1x/config';
import { startLocalServices, type LocalServices } from '../start/local-services';
import { runRoles, type RunningRoles } from '../start/run-roles';
import { SHUTDOWN_MARGIN_MS, stopWithin } from '@step1x/worker';
import { UsageError } from './golden.command';

export const START_USAGE = `step1x start
  Runs the service (this is \`npm start\`). ROLE=all (default) runs the API and a worker in this process; ROLE=api
  or ROLE=worker runs one of them. Without REDIS_URL it is a local service with no configuration: redis-server on
  a free port in a temp dir, s3rver when S3_ENDPOINT is unset, tiny random-weight models unless MODELS_DIR is set,
  and a generated API key unless API_KEYS is set. With REDIS_URL, a worker needs MODELS_DIR. PORT sets the port
  (default 3000). Ctrl-C (or SIGTERM) stops it all.`;

/** Resolves with the first SIGINT/SIGTERM; a second one exits at once (exit handlers still kill the children). */
function firstShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (seen) {
        console.error(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      seen = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** What the user reads first: where it runs, how to call it, how to stop it. */
export function startBanner(config: AppConfig, running: RunningRoles, local: LocalServices | null): string {
  const roles = { all: 'API + worker', api: 'API', worker: 'worker' }[config.server.role];
  const lines = [`Step1X-Edit service (${roles}) is up${running.apiUrl ? ` at ${running.apiUrl}` : ''}`];
  for (const what of local?.started ?? []) lines.push(`  local: ${what}`);
  if (running.worker) {
    const random = running.worker.randomWeights ? ' (RANDOM weights: outputs are not meaningful edits)' : '';
    lines.push(`  models: ${running.worker.modelsDir}${random}`);
  }
  if (running.apiUrl) {
    const key = local?.devKey ? local.devKey.key : '<your API key>';
    if (local?.devKey) lines.push(`  dev API key (tenant "${local.devKey.tenantId}"): ${local.devKey.key}`);
    const auth = `-H ${shellQuote(`Authorization: Bearer ${key}`)}`;
    const image = local ? local.exampleImagePath : 'photo.jpg';
    lines.push(
      '  submit an edit and wait up to 30 s for it:',
      `    curl -sS ${running.apiUrl}/v1/edits ${auth} -H 'Prefer: wait=30' -F image=@${shellQuote(image)} ` +
        `-F 'instruction=make the sky pink' -F steps=8`,
      '  read it again (the output URL is signed afresh on every read):',
      `    curl -sS ${running.apiUrl}/v1/edits/EDIT_ID ${auth}`,
      `  API reference: ${running.apiUrl}/docs`,
    );
  }
  lines.push('  Ctrl-C stops everything.');
  return lines.join('\n');
}

export async function startCommand(argv: string[]): Promise<number> {
  if (argv.length > 0) throw new UsageError(START_USAGE);
  const shutdown = firstShutdownSignal();
  let config = loadConfig(process.env);
  const localMode = config.redis.url === null;
  if (localMode && config.server.role !== 'all') {
    throw new UsageError(
      `ROLE=${config.server.role} needs REDIS_URL: a separate API and worker must share one Redis (and S3). ` +
        'Without REDIS_URL, run ROLE=all (the default) for a local service.',
    );
  }
  const local = localMode ? await startLocalServices(config) : null;
  let timedOut = false;
  try {
    if (local) config = loadConfig({ ...process.env, ...local.env });
    else if (config.auth.apiKeys.length === 0 && config.server.role !== 'worker') {
      console.error('warning: API_KEYS is empty; only keys already stored in Redis will be accepted');
    }
    const running = await runRoles(config, { localMode });
    console.log(startBanner(config, running, local));
    const signal = await shutdown;
    console.error(`${signal}: stopping (running edits get ${config.worker.shutdownGraceMs} ms to finish)`);
    const deadlineMs = config.worker.shutdownGraceMs + SHUTDOWN_MARGIN_MS;
    if ((await stopWithin(() => running.stop(), deadlineMs)) === 'timed_out') {
      console.error(`shutdown did not finish within ${deadlineMs} ms (is Redis gone?); exiting anyway`);
      timedOut = true;
    }
  } finally {
    await local?.stop();
  }
  console.error('stopped');
  // Clients stuck reconnecting to a dead dependency would keep the event loop alive after a timed-out stop.
  if (timedOut) process.exit(1);
  return 0;
}
