// Run by egress-guard.int-spec.ts inside a fresh network namespace (only `lo`): aims the egress guard at
// private, link-local and loopback targets and prints one JSON report line. A "victim" server on 127.0.0.1 (and
// ::1) records anything that gets through, so a broken guard shows up as victim hits, and packets to other
// addresses have no route to leave on.
import { get } from 'node:http';
import { networkInterfaces } from 'node:os';
import { EgressError, EgressGuard, type GuardedRequestOptions } from '@step1x/egress';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver';

export interface ProbeResult {
  ok: boolean;
  status?: number;
  code?: string;
  reason?: string;
  message?: string;
}

export interface ProbeReport {
  interfaces: string[];
  results: Record<string, ProbeResult>;
  /** Requests that reached 127.0.0.1 / ::1, except the unguarded control request. */
  victimHits: string[];
  controlReachedVictim: boolean;
  receiverPaths: string[];
  /** The Authorization header the receiver saw on /auth. */
  authorization: string | null;
  ipv6Loopback: boolean;
}

async function attempt(guard: EgressGuard, url: string, options: Partial<GuardedRequestOptions> = {}) {
  try {
    const response = await guard.fetch(url, {
      timeoutMs: 3000,
      maxBytes: 1024 * 1024,
      followRedirects: true,
      ...options,
    });
    return { ok: true, status: response.status };
  } catch (error) {
    if (error instanceof EgressError) {
      return { ok: false, code: error.code, reason: (error as { reason?: string }).reason, message: error.message };
    }
    return { ok: false, code: 'unexpected', message: String(error) };
  }
}

function unguardedGet(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
    }).on('error', () => resolve(false));
  });
}

async function startVictim(host: string): Promise<WebhookReceiver | null> {
  try {
    return await startWebhookReceiver({ host });
  } catch {
    return null; // IPv6 may be disabled in the namespace; [::1] is then refused without a listener to hit
  }
}

async function main(): Promise<void> {
  const victim = (await startVictim('127.0.0.1')) as WebhookReceiver;
  const victim6 = await startVictim('::1');
  const port = victim.port;
  const receiver = await startWebhookReceiver({ host: '127.0.0.2' });
  receiver.setResponder((request) => {
    if (request.path === '/to-loopback')
      return { status: 302, headers: { location: `http://127.0.0.1:${port}/stolen` } };
    if (request.path === '/to-decimal')
      return { status: 307, headers: { location: `http://2130706433:${port}/stolen` } };
    if (request.path === '/to-metadata')
      return { status: 301, headers: { location: 'http://169.254.169.254/latest/' } };
    if (request.path === '/hop') return { status: 302, headers: { location: '/ok' } };
    if (request.path === '/loop') return { status: 302, headers: { location: '/loop' } };
    if (request.path === '/big') return { status: 200, body: Buffer.alloc(2 * 1024 * 1024, 7) };
    if (request.path === '/slow') return { status: 200, delayMs: 2000 };
    return { status: 200, body: 'ok' };
  });

  const controlReachedVictim = await unguardedGet(`http://127.0.0.1:${port}/control`);
  const guard = new EgressGuard({ allowlist: '127.0.0.2/32' });
  // Answers what the system resolver cannot know; a request that arrives proves the connection used this answer.
  const pinnedGuard = new EgressGuard({
    allowlist: '127.0.0.2/32',
    resolver: async (host) => (host === 'rebind.test' ? [{ address: '127.0.0.2', family: 4 }] : []),
  });
  const r = receiver.url;
  const results: Record<string, ProbeResult> = {
    'loopback 127.0.0.1': await attempt(guard, `http://127.0.0.1:${port}/direct`),
    'loopback [::1]': await attempt(guard, `http://[::1]:${victim6?.port ?? port}/direct`),
    'metadata 169.254.169.254': await attempt(guard, 'http://169.254.169.254/latest/meta-data/'),
    'private 10.0.0.1': await attempt(guard, 'http://10.0.0.1/'),
    'cgnat 100.64.0.1': await attempt(guard, 'http://100.64.0.1/'),
    'decimal 2130706433': await attempt(guard, `http://2130706433:${port}/decimal`),
    'hex 0x7f000001': await attempt(guard, `http://0x7f000001:${port}/hex`),
    'octal 0177.0.0.1': await attempt(guard, `http://0177.0.0.1:${port}/octal`),
    'short 127.1': await attempt(guard, `http://127.1:${port}/short`),
    'mapped [::ffff:127.0.0.1]': await attempt(guard, `http://[::ffff:127.0.0.1]:${port}/mapped`),
    'name localhost': await attempt(guard, `http://localhost:${port}/localhost`),
    'redirect 127.0.0.2 -> 127.0.0.1': await attempt(guard, `${r}/to-loopback`),
    'redirect 127.0.0.2 -> 2130706433': await attempt(guard, `${r}/to-decimal`),
    'redirect 127.0.0.2 -> metadata': await attempt(guard, `${r}/to-metadata`),
    'allowed 127.0.0.2': await attempt(guard, `${r}/ok`),
    'allowed redirect within 127.0.0.2': await attempt(guard, `${r}/hop`),
    'redirect not followed when disabled': await attempt(guard, `${r}/to-loopback`, { followRedirects: false }),
    'redirect loop': await attempt(guard, `${r}/loop`, { maxRedirects: 3 }),
    'body over the cap': await attempt(guard, `${r}/big`),
    'slow answer': await attempt(guard, `${r}/slow`, { timeoutMs: 300 }),
    'credentials in URL': await attempt(guard, `http://user:p%40ss@127.0.0.2:${receiver.port}/auth`),
    'pinned name rebind.test': await attempt(pinnedGuard, 'http://rebind.test:' + receiver.port + '/pinned'),
  };

  const victimHits = [...victim.requests, ...(victim6?.requests ?? [])]
    .map((request) => request.path)
    .filter((path) => path !== '/control');
  const report: ProbeReport = {
    interfaces: Object.keys(networkInterfaces()),
    results,
    victimHits,
    controlReachedVictim,
    receiverPaths: receiver.requests.map((request) => request.path),
    authorization: receiver.requests.find((request) => request.path === '/auth')?.headers.authorization ?? null,
    ipv6Loopback: victim6 !== null,
  };
  await Promise.all([victim.stop(), victim6?.stop(), receiver.stop()]);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`egress probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
