import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/** Throughput and latency of one load phase. */
export interface LoadResult {
  name: string;
  /** Measured operations (after the warm-up). */
  requests: number;
  /** Every operation, warm-up included (to divide the CPU a phase used by). */
  operations: number;
  /** Answers whose status was not the expected one (each is also counted in `requests`). */
  unexpected: number;
  firstUnexpected: string | null;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadPhase {
  name: string;
  /** Requests in flight at once. */
  concurrency: number;
  /** Measured time; a warm-up of `warmupMs` (not measured) runs first. */
  durationMs: number;
  warmupMs?: number;
  /** Starts one operation; resolves with null when it went as expected, else with a short description. */
  operation: (index: number) => Promise<string | null>;
}

/** Closed-loop load: `concurrency` workers each start the next operation as soon as theirs ends. */
export async function runLoad(phase: LoadPhase): Promise<LoadResult> {
  const latencies: number[] = [];
  let unexpected = 0;
  let firstUnexpected: string | null = null;
  let index = 0;
  let measuring = false;
  const warmupEnd = performance.now() + (phase.warmupMs ?? 0);
  const end = warmupEnd + phase.durationMs;
  let measuredStart = warmupEnd;
  const loop = async () => {
    for (;;) {
      const started = performance.now();
      if (started >= end) return;
      if (!measuring && started >= warmupEnd) {
        measuring = true;
        measuredStart = started;
      }
      const counted = started >= warmupEnd;
      let problem: string | null;
      try {
        problem = await phase.operation(index++);
      } catch (error) {
        problem = String(error);
      }
      if (!counted) continue;
      latencies.push(performance.now() - started);
      if (problem !== null) {
        unexpected++;
        firstUnexpected ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: phase.concurrency }, loop));
  const elapsedS = (performance.now() - measuredStart) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    name: phase.name,
    requests: latencies.length,
    operations: index,
    unexpected,
    firstUnexpected,
    perSecond: latencies.length / elapsedS,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  };
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/** A keep-alive HTTP/1.1 client for loopback load: `connections` sockets at most, no per-request allocation of agents. */
export class LoadClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: URL,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(method: string, path: string, headers: Record<string, string | number>, body?: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.baseUrl.hostname,
          port: this.baseUrl.port,
          method,
          path,
          headers: body ? { ...headers, 'content-length': body.length } : headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One row of the results table. */
export function formatLoad(result: LoadResult): string {
  const bad = result.unexpected ? `  (${result.unexpected} unexpected, first: ${result.firstUnexpected})` : '';
  return (
    `${result.name.padEnd(34)} ${result.perSecond.toFixed(0).padStart(7)}/s  ` +
    `p50 ${result.p50Ms.toFixed(1).padStart(6)} ms  p99 ${result.p99Ms.toFixed(1).padStart(6)} ms  ` +
    `max ${result.maxMs.toFixed(1).padStart(6)} ms  n=${result.requests}${bad}`
  );
}

/** CPU milliseconds (user + system) used so far by each direct child of this process, by a short name. */
export function childCpuMs(nameOf: (commandLine: string) => string): Map<string, number> {
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
  const byName = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let commandLine: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised command name: state ppid ... utime(14) stime(15), 1-based.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== process.pid) continue;
    const cpuMs = (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
    const name = nameOf(commandLine);
    byName.set(name, (byName.get(name) ?? 0) + cpuMs);
  }
  const self = process.cpuUsage();
  byName.set('load generator (this process)', (self.user + self.system) / 1000);
  return byName;
}
