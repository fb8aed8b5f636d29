import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServiceError } from './local-service-error';
import { describeExit, spawnManaged, type ManagedProcess } from './managed-process';

export interface StartS3rverOptions {
  /** Address to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Bucket created at start. @defaultValue a unique `step1x-test-…` name */
  bucket?: string;
  /** @defaultValue 15000 */
  startTimeoutMs?: number;
  /** Where objects are stored, left in place by stop() (its owner removes it). @defaultValue a new temp dir, which stop() deletes */
  dir?: string;
}

export interface S3rverHandle {
  /** `http://host:port`; use with path-style addressing. */
  endpoint: string;
  host: string;
  port: number;
  bucket: string;
  region: string;
  /** s3rver's fixed development credentials. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  dir: string;
  output(): string;
  /** Stops the server (and deletes `dir` when it was created here). Idempotent. */
  stop(): Promise<void>;
}

/** The service's S3 settings (libs/config variable names) that point it at this s3rver. */
export function s3rverEnv(s3: S3rverHandle): Record<string, string> {
  return {
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  };
}

const DEFAULTS = { host: '127.0.0.1', startTimeoutMs: 15_000 } as const;

// Runs in the child. The server binds port 0 itself and reports it, so there is no free-port race; it exits when
// its stdin closes, i.e. when this process dies without calling stop() (even by SIGKILL).
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = new S3rver({
  address: options.host, port: 0, silent: true, directory: options.dir,
  configureBuckets: [{ name: options.bucket }],
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
const shutdown = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
`;

/** s3rver (a development dependency) in a child process on a free port, with one bucket. */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverHandle> {
  const host = options.host ?? DEFAULTS.host;
  const bucket = options.bucket ?? `step1x-test-${process.pid}-${Date.now().toString(36)}`;
  const modulePath = resolveS3rver();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'step1x-s3rver-'));
  const removeDir = () => {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  const server = spawnManaged(
    process.execPath,
    ['-e', CHILD_SCRIPT, modulePath, JSON.stringify({ host, dir, bucket })],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  try {
    const port = await readReportedPort(server, options.startTimeoutMs ?? DEFAULTS.startTimeoutMs);
    return {
      endpoint: `http://${host}:${port}`,
      host,
      port,
      bucket,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      dir,
      output: () => server.output(),
      async stop() {
        await server.stop();
        removeDir();
      },
    };
  } catch (error) {
    await server.stop();
    removeDir();
    throw error;
  }
}

function resolveS3rver(): string {
  try {
    return require.resolve('s3rver');
  } catch {
    throw new LocalServiceError(
      'local_service_not_installed',
      's3rver is not installed (it is a development dependency: run `npm install`)',
    );
  }
}

function readReportedPort(server: ManagedProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(`s3rver did not report its port within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const completeLines = stdout.split('\n').slice(0, -1);
      const line = completeLines.find((candidate) => candidate.startsWith('{'));
      if (!line) return;
      cleanup();
      resolve((JSON.parse(line) as { port: number }).port);
    };
    function cleanup() {
      clearTimeout(timer);
      server.child.stdout?.off('data', onData);
    }
    function fail(reason: string) {
      cleanup();
      reject(new LocalServiceError('local_service_failed', `${reason}. Its output:\n${server.output()}`));
    }
    server.child.stdout?.on('data', onData);
    void server.exited.then((exit) => fail(`s3rver ${describeExit(exit)}`));
  });
}
