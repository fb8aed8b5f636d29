import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const OUTPUT_TAIL_CHARS = 16_384;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  spawnError?: NodeJS.ErrnoException;
}

/** A child process that cannot outlive this process and keeps the tail of its output for error messages. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  hasExited(): boolean;
  /** Last 16 KiB of stdout and stderr, interleaved. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<ProcessExit>;
}

export interface ManagedSpawnOptions extends SpawnOptions {
  /**
   * Also stop the child when this process is SIGKILLed (no exit handler runs then), for programs that do not
   * watch their stdin themselves. The child keeps its pid; its stdin is /dev/null. @defaultValue false
   */
  diesWithParent?: boolean;
}

/**
 * `sh -c` script for `diesWithParent`. A watcher inherits the stdin pipe this process holds open and sends
 * SIGTERM when the pipe reaches EOF: this process died (or the child already exited and node closed the pipe, when
 * there is nothing left to kill). Then the shell execs the real program in its own place, so `$$` and `child.pid`
 * are that program. Background lists start with stdin on /dev/null, hence the pipe's copy on fd 3.
 */
const DIE_WITH_PARENT_SCRIPT =
  'exec 3<&0; { cat <&3 >/dev/null 2>&1; kill "$$" 2>/dev/null; } </dev/null >/dev/null 2>&1 & ' +
  'exec "$0" "$@" 3<&- </dev/null';

export function spawnManaged(
  command: string,
  args: readonly string[],
  options: ManagedSpawnOptions = {},
): ManagedProcess {
  // Its own process group: a Ctrl-C or a group-wide SIGTERM (e.g. from `timeout`) reaches this process, which
  // stops its children in order (worker and clients first), instead of killing Redis under a draining worker.
  const { diesWithParent = false, ...rest } = options;
  const spawnOptions: SpawnOptions = { detached: true, ...rest };
  const child = diesWithParent
    ? spawn('/bin/sh', ['-c', DIE_WITH_PARENT_SCRIPT, command, ...args], {
        ...spawnOptions,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let tail = '';
  const record = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', record);
  child.stderr?.on('data', record);

  let done = false;
  // A caller that throws or calls process.exit must not leave servers behind holding ports.
  const killOnExit = () => {
    if (!done) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      // 'error' without a pid means spawn failed; 'exit' will not follow.
      if (child.pid === undefined) {
        done = true;
        process.removeListener('exit', killOnExit);
        resolve({ code: null, signal: null, spawnError: error });
      }
    });
    child.once('exit', (code, signal) => {
      done = true;
      process.removeListener('exit', killOnExit);
      resolve({ code, signal });
    });
  });

  const stop = async (graceMs = 5000): Promise<ProcessExit> => {
    if (done) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };

  return { child, exited, hasExited: () => done, output: () => tail, stop };
}

/** Describes how a process ended, for error messages. */
export function describeExit(exit: ProcessExit): string {
  if (exit.spawnError) return `could not be started (${exit.spawnError.code ?? exit.spawnError.message})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
