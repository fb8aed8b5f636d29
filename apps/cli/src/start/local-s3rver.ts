import { LocalServiceError, spawnLocal, type LocalProcess } from './local-process';

export interface LocalS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  process: LocalProcess;
}

const START_TIMEOUT_MS = 15_000;

// Runs in the child: s3rver binds port 0 itself and reports it (no free-port race), and exits when its stdin
// closes, so it cannot outlive a CLI that was killed.
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: options.dir,
  configureBuckets: [{ name: options.bucket }] });
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); });
const shutdown = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
`;

/** An s3rver child process (a development dependency) on a free port, storing objects in `dir`. */
export async function startLocalS3rver(dir: string, bucket: string): Promise<LocalS3> {
  let modulePath: string;
  try {
    modulePath = require.resolve('s3rver');
  } catch {
    throw new LocalServiceError(
      's3rver is not installed (it is a dev dependency: run `npm install`), or set S3_ENDPOINT',
    );
  }
  const server = spawnLocal(process.execPath, ['-e', CHILD_SCRIPT, modulePath, JSON.stringify({ dir, bucket })], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    const port = await reportedPort(server);
    return { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', process: server };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

function reportedPort(server: LocalProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(`no port reported within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{') && candidate.endsWith('}'));
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
      reject(new LocalServiceError(`s3rver did not start: ${reason}\n${server.output()}`));
    }
    server.child.stdout?.on('data', onData);
    void server.exited.then(() => fail('it exited'));
  });
}
