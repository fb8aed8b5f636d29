import { connect } from 'node:net';
import { freePort, LocalServiceError, spawnLocal, type LocalProcess } from './local-process';

export interface LocalRedis {
  url: string;
  process: LocalProcess;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

/**
 * `redis-server` for local mode on a free port with its data in `dir` (removed with the temp dir). AOF stays off:
 * the data dies with the temp dir anyway. Production Redis runs with `appendonly yes` (docs/ARCHITECTURE.md).
 */
export async function startLocalRedis(dir: string): Promise<LocalRedis> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    const server = spawnLocal(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { cwd: dir },
    );
    const state = await waitForPong(server, port);
    if (state === 'ready') return { url: `redis://${HOST}:${port}`, process: server };
    await server.stop();
    // Another process may take the port between the probe and redis-server's bind.
    if (state === 'port_taken' && attempt < PORT_ATTEMPTS) continue;
    const hint = state === 'not_installed' ? ' (is redis-server installed? run `bash scripts/ensure-redis`)' : '';
    throw new LocalServiceError(`redis-server did not start: ${state}${hint}\n${server.output()}`);
  }
}

async function waitForPong(server: LocalProcess, port: number): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.hasExited()) {
      if (server.child.pid === undefined) return 'not_installed';
      return /address already in use/i.test(server.output()) ? 'port_taken' : 'it exited';
    }
    if (await answersPing(port)) return 'ready';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return `no answer within ${START_TIMEOUT_MS} ms`;
}

/** One inline PING over a raw socket: the CLI needs no Redis client for this. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
