import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

const OUTPUT_TAIL_CHARS = 8192;

/** A child the CLI started for local mode: killed when the CLI exits, whatever the reason. */
export interface LocalProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** The last few KiB of its stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export class LocalServiceError extends Error {
  readonly code = 'local_service_failed';
  constructor(message: string) {
    super(message);
    this.name = 'LocalServiceError';
  }
}

export function spawnLocal(command: string, args: readonly string[], options: SpawnOptions = {}): LocalProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let tail = '';
  const keep = (chunk: Buffer) => void (tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  // Covers crashes and process.exit(); a SIGKILLed CLI cannot clean up (s3rver then exits when its stdin closes).
  const killOnExit = () => void (done || child.kill('SIGKILL'));
  process.once('exit', killOnExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      done = true;
      process.removeListener('exit', killOnExit);
      resolve({ code, signal });
    };
    child.once('error', () => child.pid === undefined && finish(null, null));
    child.once('exit', finish);
  });
  return {
    child,
    exited,
    hasExited: () => done,
    output: () => tail,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A port that was free on `host` a moment ago (callers retry when their bind loses a race). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port bound on ${host}`))));
    });
  });
}
