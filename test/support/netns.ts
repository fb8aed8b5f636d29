import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// Tests that aim the egress guard at private, link-local or public addresses run in a fresh network namespace
// holding only `lo`: if the guard is broken, the packets still reach nothing.

export interface NetnsRunOptions {
  /** Written to the child's stdin, which is then closed. @defaultValue none */
  input?: string;
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long. @defaultValue 60000 */
  timeoutMs?: number;
}

export interface NetnsRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Exit status of the wrapper when the new namespace is not what we expect. */
export const NETNS_SETUP_FAILED = 97;

// $0 is a label; "$@" is the command. Brings lo up, refuses to run unless lo is the only interface, then execs.
const WRAPPER = [
  '"$NETNS_IP" link set lo up || { echo "netns: could not bring lo up" >&2; exit 97; }',
  'links=$("$NETNS_IP" -o link show | cut -d: -f2 | tr -d " " | tr "\\n" " ")',
  'if [ "$links" != "lo " ]; then echo "netns: expected only lo, found: $links" >&2; exit 97; fi',
  'exec "$@"',
].join('\n');

const SYSTEM_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

interface NetnsTools {
  unshare: string;
  ip: string;
}

/** Throws a message saying what to install unless `unshare` and `ip` are present. */
export function assertNetnsSupported(): NetnsTools {
  const unshare = findExecutable('unshare');
  const ip = findExecutable('ip');
  const missing = [!unshare && '`unshare` (util-linux)', !ip && '`ip` (iproute2)'].filter(Boolean);
  if (!unshare || !ip) {
    throw new Error(`network-namespace tests need ${missing.join(' and ')}: apt-get install -y util-linux iproute2`);
  }
  return { unshare, ip };
}

function unshareArgs(command: string, args: readonly string[]): string[] {
  // As root a plain network namespace; otherwise map the user to root in a user namespace so `ip` may act.
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const nsFlags = isRoot ? ['--net'] : ['--map-root-user', '--net'];
  return [...nsFlags, '--', 'sh', '-c', WRAPPER, 'netns', command, ...args];
}

/** Starts `command` inside a fresh network namespace with only `lo` (up). */
export function spawnInNetns(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const tools = assertNetnsSupported();
  return spawn(tools.unshare, unshareArgs(command, args), {
    ...options,
    env: { ...(options.env ?? process.env), NETNS_IP: tools.ip },
  });
}

/** Runs `command` to completion inside a fresh network namespace and collects its output. */
export function runInNetns(
  command: string,
  args: readonly string[],
  options: NetnsRunOptions = {},
): Promise<NetnsRunResult> {
  const child = spawnInNetns(command, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('error', (error) => {
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
      if (code === NETNS_SETUP_FAILED) {
        reject(new Error(`could not set up a network namespace (needs root or user namespaces):\n${stderr}`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * Runs a Node script inside a fresh network namespace and parses the last line of its stdout as JSON (the
 * script's report). Rejects when the script fails or prints no JSON.
 */
export async function runNodeInNetns<T = unknown>(
  scriptPath: string,
  args: readonly string[] = [],
  options: NetnsRunOptions = {},
): Promise<T> {
  const result = await runInNetns(process.execPath, [scriptPath, ...args], options);
  const lastLine = result.stdout.trimEnd().split('\n').pop() ?? '';
  if (result.code !== 0) {
    throw new Error(
      `${scriptPath} in a network namespace ${result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`}` +
        `\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  try {
    return JSON.parse(lastLine) as T;
  } catch {
    throw new Error(`${scriptPath} printed no JSON report\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
