// Run by service-egress.e2e-spec.ts inside a fresh network namespace (only `lo`): starts the whole local service
// (`step1x start`, API + worker) and feeds it image_url and webhook_url values aimed at loopback, private,
// link-local and public addresses, then prints one JSON report line. A victim server on 127.0.0.1 and ::1 records
// anything that gets through; other addresses have no route out of the namespace, so a broken guard reaches nothing.
import { networkInterfaces } from 'node:os';
import type { EditObject } from '@step1x/contracts';
import { getFreePort } from '../support/free-port';
import { startWebhookReceiver, type ScriptedResponse, type WebhookReceiver } from '../support/webhook-receiver';
import { jsonInit, pngOf, spawnService } from './service-harness';

export interface EgressAnswer {
  status: number;
  code: string | null;
  param: string | null;
  editStatus?: string;
}

export interface EgressReport {
  interfaces: string[];
  imageUrls: Record<string, EgressAnswer>;
  webhookUrls: Record<string, EgressAnswer>;
  /** An allowed image_url and webhook_url on 127.0.0.2: the service does work inside the namespace. */
  control: EgressAnswer & { webhookTypes: string[] };
  victimHits: string[];
  receiverPaths: string[];
  serviceExit: { code: number | null; signal: string | null };
}

const KEY = 'sk_netns_acme_0123456789';

async function startVictim(host: string): Promise<WebhookReceiver | null> {
  try {
    return await startWebhookReceiver({ host });
  } catch {
    return null; // IPv6 may be off in the namespace: [::1] is then refused with nothing to hit
  }
}

async function main(): Promise<void> {
  const victim = (await startVictim('127.0.0.1')) as WebhookReceiver;
  const victim6 = await startVictim('::1');
  const v = victim.port;
  const png = await pngOf(64, 48);
  const receiver = await startWebhookReceiver({ host: '127.0.0.2' });
  receiver.setResponder((request): ScriptedResponse => {
    if (request.path === '/to-loopback') return { status: 302, headers: { location: `http://127.0.0.1:${v}/stolen` } };
    if (request.path === '/to-decimal') return { status: 307, headers: { location: `http://2130706433:${v}/stolen` } };
    if (request.path === '/to-metadata')
      return { status: 301, headers: { location: 'http://169.254.169.254/latest/' } };
    if (request.path === '/in.png') return { status: 200, headers: { 'content-type': 'image/png' }, body: png };
    return { status: 204 };
  });

  const port = await getFreePort();
  const service = spawnService({
    PORT: String(port),
    API_KEYS: `acme:${KEY}`,
    EGRESS_ALLOWLIST: '127.0.0.2/32',
    LOG_LEVEL: 'warn',
  });
  await service.waitForOutput(/Ctrl-C stops everything/, 90_000);
  const api = `http://127.0.0.1:${port}`;
  const post = async (body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<EgressAnswer> => {
    const init = jsonInit({ instruction: 'x', steps: 1, ...body }, { authorization: `Bearer ${KEY}`, ...headers });
    const response = await fetch(`${api}/v1/edits`, init);
    const json = (await response.json()) as { error?: { code: string; param: string | null } } & Partial<EditObject>;
    return {
      status: response.status,
      code: json.error?.code ?? null,
      param: json.error?.param ?? null,
      editStatus: json.status,
    };
  };

  const r = receiver.url;
  const imageUrls: Record<string, EgressAnswer> = {};
  for (const [name, url] of Object.entries({
    'loopback 127.0.0.1': `http://127.0.0.1:${v}/a.png`,
    'loopback [::1]': `http://[::1]:${victim6?.port ?? v}/a.png`,
    'name localhost': `http://localhost:${v}/a.png`,
    'metadata 169.254.169.254': 'http://169.254.169.254/latest/meta-data/',
    'private 10.0.0.1': 'http://10.0.0.1/a.png',
    'private 192.168.1.1': 'http://192.168.1.1/a.png',
    'cgnat 100.64.0.1': 'http://100.64.0.1/a.png',
    'decimal 2130706433': `http://2130706433:${v}/a.png`,
    'hex 0x7f000001': `http://0x7f000001:${v}/a.png`,
    'octal 0177.0.0.1': `http://0177.0.0.1:${v}/a.png`,
    'short 127.1': `http://127.1:${v}/a.png`,
    'mapped [::ffff:127.0.0.1]': `http://[::ffff:127.0.0.1]:${v}/a.png`,
    'redirect 127.0.0.2 -> 127.0.0.1': `${r}/to-loopback`,
    'redirect 127.0.0.2 -> 2130706433': `${r}/to-decimal`,
    'redirect 127.0.0.2 -> metadata': `${r}/to-metadata`,
    // Allowed by policy, but the namespace has no route anywhere: the fetch fails without a packet leaving.
    'public 93.184.215.14': 'http://93.184.215.14/a.png',
  })) {
    imageUrls[name] = await post({ image_url: url });
  }

  const webhookUrls: Record<string, EgressAnswer> = {};
  for (const [name, url] of Object.entries({
    'loopback 127.0.0.1': `http://127.0.0.1:${v}/hook`,
    'metadata 169.254.169.254': 'http://169.254.169.254/hook',
    'private 10.0.0.1': 'http://10.0.0.1/hook',
    'decimal 2130706433': `http://2130706433:${v}/hook`,
  })) {
    webhookUrls[name] = await post({ image_url: `${r}/in.png`, webhook_url: url });
  }

  const control = await post({ image_url: `${r}/in.png`, webhook_url: `${r}/hooks/ok` }, { prefer: 'wait=30' });
  await receiver
    .waitFor((all) => all.some((q) => q.path === '/hooks/ok' && q.text.includes('"edit.completed"')), 15_000)
    .catch(() => []);
  const webhookTypes = receiver.requests
    .filter((q) => q.path === '/hooks/ok')
    .map((q) => (JSON.parse(q.text) as { type: string }).type);

  service.kill('SIGTERM');
  const exit = await service.exited;
  const report: EgressReport = {
    interfaces: Object.keys(networkInterfaces()),
    imageUrls,
    webhookUrls,
    control: { ...control, webhookTypes },
    victimHits: [...victim.requests, ...(victim6?.requests ?? [])].map((q) => q.path),
    receiverPaths: receiver.requests.map((q) => q.path),
    serviceExit: { code: exit.code, signal: exit.signal },
  };
  await Promise.all([victim.stop(), victim6?.stop(), receiver.stop()]);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`service egress probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
