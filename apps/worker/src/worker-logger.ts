/** The worker's log lines; the composition root picks the sink, services only call it. */
export interface WorkerLogger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Lines on stderr as `<time> <level> [worker] <message>`, below `level` dropped (LOG_LEVEL). */
export function createConsoleLogger(level: LogLevel, name = 'worker'): WorkerLogger {
  const write = (at: LogLevel) => (message: string) => {
    if (RANK[at] > RANK[level]) return;
    process.stderr.write(`${new Date().toISOString()} ${at} [${name}] ${message}\n`);
  };
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug') };
}

export const SILENT_LOGGER: WorkerLogger = { error() {}, warn() {}, info() {}, debug() {} };

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
