import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { getFreePort } from './free-port';
import { LocalServiceError } from './local-service-error';
import { describeExit, spawnManaged, type ManagedProcess } from './managed-process';

export interface StartRedisOptions {
  /** Address to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Fixed port, e.g. to restart a server where its clients expect it (no retry when taken). @defaultValue a free port */
  port?: number;
  /** How long to wait for the first PONG. @defaultValue 10000 */
  startTimeoutMs?: number;
  /** Extra `--option value` arguments appended to the command line. @defaultValue [] */
  extraArgs?: readonly string[];
  /** Working directory, left in place by stop() (its owner removes it). @defaultValue a new temp dir, which stop() deletes */
  dir?: string;
}

export interface RedisServerHandle {
  /** `redis://host:port` */
  url: string;
  host: string;
  port: number;
  /** Working directory. */
  dir: string;
  /** The redis-server process itself. */
  pid: number;
  /** Last lines of the server's log. */
  output(): string;
  /** Stops the server (and deletes `dir` when it was created here). Idempotent. */
  stop(): Promise<void>;
}

const DEFAULTS = { host: '127.0.0.1', startTimeoutMs: 10_000 } as const;
const PORT_ATTEMPTS = 5;

/**
 * A throw-away redis-server on a free port that answers PING, dies with this process (even on SIGKILL) and keeps
 * nothing: RDB snapshots and AOF stay off, as the data is thrown away with it. Production Redis runs with
 * `appendonly yes` (docs/ARCHITECTURE.md).
 */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const host = options.host ?? DEFAULTS.host;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULTS.startTimeoutMs;
  assertRedisInstalled();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'step1x-redis-'));
  const removeDir = () => {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await getFreePort(host));
      const server = spawnManaged('redis-server', redisArgs(host, port, dir, options.extraArgs ?? []), {
        cwd: dir,
        diesWithParent: true,
      });
      const ready = await waitForPong(server, host, port, startTimeoutMs);
      if (ready === 'ready') return handleFor(server, host, port, dir, removeDir);
      await server.stop();
      // Another process may have taken the port between getFreePort and the bind.
      if (ready === 'port_taken' && options.port === undefined && attempt < PORT_ATTEMPTS) continue;
      throw new LocalServiceError(
        'local_service_failed',
        `redis-server on ${host}:${port} did not start (${ready}). Its output:\n${server.output()}`,
      );
    }
  } catch (error) {
    removeDir();
    throw error;
  }
}

function redisArgs(host: string, port: number, dir: string, extra: readonly string[]): string[] {
  return [
    '--port', String(port),
    '--bind', host,
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    // As deploy/redis.conf: edit records and BullMQ job hashes stay compact listpacks.
    '--hash-max-listpack-value', '1024',
    ...extra,
  ]; // prettier-ignore
}

function assertRedisInstalled(): void {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', 'redis-server'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new LocalServiceError(
      'local_service_not_installed',
      'redis-server is not installed (not found on PATH). Run `bash scripts/ensure-redis` from the repository ' +
        'root: as root it installs it, otherwise it prints the command to install it.',
    );
  }
}

type Readiness = 'ready' | 'port_taken' | string;

async function waitForPong(server: ManagedProcess, host: string, port: number, timeoutMs: number): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) {
      const exit = await server.exited;
      return /address already in use/i.test(server.output()) ? 'port_taken' : `it ${describeExit(exit)}`;
    }
    if (await answersPing(host, port)) return 'ready';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return `no PONG within ${timeoutMs} ms`;
}

/** One inline PING over a raw socket, so this library needs no Redis client. */
export function answersPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
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

function handleFor(
  server: ManagedProcess,
  host: string,
  port: number,
  dir: string,
  removeDir: () => void,
): RedisServerHandle {
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    dir,
    pid: server.child.pid as number,
    output: () => server.output(),
    async stop() {
      await server.stop();
      removeDir();
    },
  };
}
