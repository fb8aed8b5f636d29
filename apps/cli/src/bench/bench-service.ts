import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Helpers the service benchmarks share: the service as a child process, and percentiles. */

const STEP1X_BIN = join(__dirname, '..', '..', 'bin', 'step1x.js');

export interface ServiceProcess {
  child: ChildProcess;
  url: URL | null;
  output(): string;
  stop(): Promise<void>;
}

/** `step1x start` as a child with the given env; resolves once it printed its banner (or, for a worker, `ready`). */
export function startService(
  env: Record<string, string>,
  readyLine: RegExp,
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...nodeArgs, STEP1X_BIN, 'start'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the service did not start within 120 s:\n${text}`));
    }, 120_000);
    const onText = (chunk: Buffer) => {
      text = (text + chunk.toString()).slice(-20_000);
      const match = readyLine.exec(text);
      if (match) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        resolve({ child, url: match[1] ? new URL(match[1]) : null, output: () => text, stop });
      }
    };
    child.stdout?.on('data', onText);
    child.stderr?.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(-20_000)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code ?? signal}) before it was ready:\n${text}`));
    });
  });
}

/** The `p`-th percentile (nearest rank) of `values`; they need not be sorted. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
