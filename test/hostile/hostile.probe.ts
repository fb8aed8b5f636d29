// Run by hostile.e2e-spec.ts inside a fresh network namespace (only `lo`). Puts private addresses (10/8, 172.16/12,
// 192.168/16, metadata, CGNAT, ULA…) on `lo` with a canary listening on port 80 of all of them, names pointing at
// private addresses in the namespace's own /etc/hosts (a private mount namespace), an image host on 127.0.0.2 (the
// one allowed address), then starts the whole service (`step1x start`: API + worker + redis + s3rver) and sends it
// every case of hostile-cases.ts. Accepted edits are followed to a terminal status. Prints one JSON report line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_ERROR_CODES, type EditObject, type UploadTicket } from '@step1x/contracts';
import { getFreePort } from '../support/free-port';
import { startWebhookReceiver, type ScriptedResponse } from '../support/webhook-receiver';
import { spawnService, TENANTS } from '../e2e/service-harness';
import { hostileCases, PRIVATE_NAMES, type HostileCase, type HostileContext } from './hostile-cases';
import { hostileImages, type HostileImage } from './hostile-images';
import { sendRaw, type RawResponse } from './raw-http';

export interface CaseResult {
  group: string;
  name: string;
  status: number | null;
  code: string | null;
  outcome: 'refused' | 'accepted' | 'answered';
  /** Time to the answer. */
  ms: number;
  /** Terminal status of an accepted edit. */
  editStatus?: string;
  problem: string | null;
}

export interface HostileReport {
  interfaces: string[];
  privateAddresses: string[];
  privateNamesResolved: boolean;
  results: CaseResult[];
  canaryHits: string[];
  serviceAliveAfter: boolean;
  serviceExit: { code: number | null; signal: string | null };
  durationMs: number;
}

const CANARY_PORT = 80;
const PRIVATE_V4 = [
  '10.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.254',
  '192.168.1.1',
  '169.254.169.254',
  '169.254.0.1',
  '100.64.0.1',
  '198.18.0.1',
];
const PRIVATE_V6 = ['fd00::1', 'fc00::1'];

function addPrivateAddresses(): string[] {
  const ip = process.env.NETNS_IP ?? 'ip';
  const added: string[] = [];
  for (const address of PRIVATE_V4) {
    try {
      execFileSync(ip, ['addr', 'add', `${address}/32`, 'dev', 'lo'], { stdio: 'ignore' });
      added.push(address);
    } catch {
      // reported: the spec requires the IPv4 ones
    }
  }
  for (const address of PRIVATE_V6) {
    try {
      execFileSync(ip, ['-6', 'addr', 'add', `${address}/128`, 'dev', 'lo'], { stdio: 'ignore' });
      added.push(address);
    } catch {
      // IPv6 may be off in the namespace
    }
  }
  return added;
}

/** Listens on port 80 of every address; any connection is a hit (nothing should ever connect). */
async function startCanary(hits: string[]): Promise<Server> {
  const onConnection = (socket: Socket) => {
    hits.push(`${socket.remoteAddress} -> ${socket.localAddress}:${socket.localPort}`);
    socket.destroy();
  };
  for (const host of ['::', '0.0.0.0']) {
    const server = createServer(onConnection);
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen({ port: CANARY_PORT, host, ipv6Only: false }, () => resolve(true));
    });
    if (ok) return server;
  }
  throw new Error('no canary could listen on port 80');
}

/** A hosts file with the private names, bind-mounted over /etc/hosts for the service only (own mount namespace). */
function hostsWrapper(dir: string): string[] | null {
  const hostsPath = join(dir, 'hosts');
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost'];
  for (const [name, address] of Object.entries(PRIVATE_NAMES)) lines.push(`${address} ${name}`);
  writeFileSync(hostsPath, `${lines.join('\n')}\n`);
  const wrapper = [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mount --bind "$0" /etc/hosts && exec "$@"',
    hostsPath,
  ];
  try {
    const seen = execFileSync(wrapper[0], [...wrapper.slice(1), 'cat', '/etc/hosts'], { encoding: 'utf8' });
    return seen.includes('internal.hostile.test') ? wrapper : null;
  } catch {
    return null;
  }
}

function imageHostResponder(images: HostileImage[]) {
  const huge = Buffer.alloc(25 * 1024 * 1024, 1);
  return (request: { path: string }): ScriptedResponse => {
    const url = new URL(request.path, 'http://host');
    const image = /^\/img\/(\d+)$/.exec(url.pathname);
    if (image) {
      const found = images[Number(image[1])];
      return found ? { status: 200, headers: { 'content-type': found.type }, body: found.bytes } : { status: 404 };
    }
    switch (url.pathname) {
      case '/redirect':
        return { status: 302, headers: { location: url.searchParams.get('to') ?? '/' } };
      case '/chain': {
        const n = Number(url.searchParams.get('n') ?? '0');
        const to = url.searchParams.get('to') ?? '/';
        const next = n > 0 ? `/chain?n=${n - 1}&to=${encodeURIComponent(to)}` : to;
        return { status: 307, headers: { location: next } };
      }
      case '/loop':
        return { status: 302, headers: { location: '/loop' } };
      case '/redirect-empty':
        return { status: 302 };
      case '/slow':
        return { status: 200, headers: { 'content-type': 'image/png' }, body: images[0].bytes, delayMs: 6000 };
      case '/huge':
        return { status: 200, headers: { 'content-type': 'image/png' }, body: huge };
      default:
        return { status: url.pathname.startsWith('/hook') ? 200 : 404 };
    }
  };
}

function judge(testCase: HostileCase, response: RawResponse): Omit<CaseResult, 'group' | 'name' | 'ms'> {
  const answered = (
    problem: string | null,
    outcome: CaseResult['outcome'] = 'answered',
    code: string | null = null,
  ) => ({
    status: response.status,
    code,
    outcome,
    problem,
  });
  if (response.status === null) {
    return answered(response.timedOut ? 'no answer before the timeout' : `no answer (${response.error ?? 'closed'})`);
  }
  if (response.interim.includes(100) && response.status === 413) return answered('100 Continue came before the 413');
  let body: unknown = null;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    // judged below
  }
  if (response.status >= 400 && response.status < 500) {
    const error = (body as { error?: { code?: unknown; message?: unknown; param?: unknown } } | null)?.error;
    const shaped =
      error !== undefined &&
      typeof error.code === 'string' &&
      typeof error.message === 'string' &&
      (error.param === null || typeof error.param === 'string');
    const code = shaped ? (error.code as string) : null;
    if (!shaped)
      return answered(`a ${response.status} without the error shape: ${response.body.toString('utf8').slice(0, 120)}`);
    if (!(ALL_ERROR_CODES as readonly string[]).includes(code as string))
      return answered(`unknown code ${code}`, 'refused', code);
    if (testCase.mustAccept) return answered(`a valid input was refused: ${code}`, 'refused', code);
    if (testCase.expect && testCase.expect.status !== response.status) {
      return answered(`expected ${testCase.expect.status}, got ${response.status} ${code}`, 'refused', code);
    }
    if (testCase.expect?.code && testCase.expect.code !== code) {
      return answered(`expected ${testCase.expect.code}, got ${code}`, 'refused', code);
    }
    return answered(null, 'refused', code);
  }
  if (response.status >= 200 && response.status < 300) {
    const edit = body as Partial<EditObject> | null;
    const isEdit = typeof edit?.id === 'string' && edit.id.startsWith('edit_') && typeof edit.status === 'string';
    if (testCase.expect) return answered(`accepted (${response.status}), expected ${testCase.expect.status}`);
    return answered(null, isEdit ? 'accepted' : 'answered');
  }
  return answered(`answered ${response.status}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const privateAddresses = addPrivateAddresses();
  const canaryHits: string[] = [];
  const canary = await startCanary(canaryHits);
  const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
  const wrapper = hostsWrapper(dir);
  const images = await hostileImages();
  const imageHost = await startWebhookReceiver({ host: '127.0.0.2' });
  imageHost.setResponder(imageHostResponder(images));

  const apiPort = await getFreePort();
  const service = spawnService(
    {
      PORT: String(apiPort),
      API_KEYS: `${TENANTS.acme.id}:${TENANTS.acme.key},${TENANTS.globex.id}:${TENANTS.globex.key}`,
      EGRESS_ALLOWLIST: '127.0.0.2/32',
      IMAGE_FETCH_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'warn',
    },
    undefined,
    wrapper ?? [],
  );
  await service.waitForOutput(/Ctrl-C stops everything/, 180_000);
  const api = `http://127.0.0.1:${apiPort}`;
  const call = (path: string, init: RequestInit = {}, tenant: 'acme' | 'globex' = 'acme') =>
    fetch(`${api}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TENANTS[tenant].key}`, 'content-type': 'application/json', ...init.headers },
    });
  const upload = async (image: HostileImage, tenant: 'acme' | 'globex' = 'acme'): Promise<string> => {
    const type = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'].includes(image.type) ? image.type : 'image/png';
    const ticketResponse = await call(
      '/v1/uploads',
      {
        method: 'POST',
        body: JSON.stringify({ content_type: type, size: image.bytes.length }),
      },
      tenant,
    );
    const ticket = (await ticketResponse.json()) as UploadTicket;
    const put = await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: image.bytes });
    if (!put.ok) throw new Error(`upload PUT answered ${put.status}`);
    return ticket.image_key;
  };

  // The other tenant's edit (canceled while queued: it never costs a run) and upload.
  const foreign = (await (
    await call(
      '/v1/edits',
      { method: 'POST', body: JSON.stringify({ instruction: 'x', steps: 1, image_url: `${imageHost.url}/img/0` }) },
      'globex',
    )
  ).json()) as EditObject;
  await call(`/v1/edits/${foreign.id}/cancel`, { method: 'POST', body: '' }, 'globex');
  const context: HostileContext = {
    key: TENANTS.acme.key,
    otherKey: TENANTS.globex.key,
    imageHost: imageHost.url,
    canaryPort: CANARY_PORT,
    apiPort,
    foreignEditId: foreign.id,
    foreignUploadKey: await upload(images[0], 'globex'),
    upload: (image) => upload(image),
    images,
    privateNames: wrapper ? Object.keys(PRIVATE_NAMES) : [],
  };

  const cases = hostileCases(images).filter((c) => c.group !== 'ssrf names' || wrapper !== null);
  const results: CaseResult[] = [];
  const accepted: Array<{ index: number; id: string }> = [];
  for (const testCase of cases) {
    let verdict: Omit<CaseResult, 'group' | 'name' | 'ms'>;
    let response: RawResponse | null = null;
    const sentAt = Date.now();
    try {
      // Generous: on a loaded 2-core machine an answer can wait behind a running edit; a hang still shows.
      response = await sendRaw(apiPort, await testCase.build(context), 60_000);
      verdict = judge(testCase, response);
    } catch (error) {
      verdict = { status: null, code: null, outcome: 'answered', problem: `the case itself failed: ${String(error)}` };
    }
    if (verdict.outcome === 'accepted' && response) {
      accepted.push({ index: results.length, id: (JSON.parse(response.body.toString('utf8')) as EditObject).id });
    }
    results.push({ group: testCase.group, name: testCase.name, ms: Date.now() - sentAt, ...verdict });
  }

  // Every accepted edit must reach `succeeded`.
  const deadline = Date.now() + 240_000;
  for (const { index, id } of accepted) {
    for (;;) {
      const edit = (await (await call(`/v1/edits/${id}`)).json()) as EditObject;
      if (['succeeded', 'failed', 'canceled'].includes(edit.status) || Date.now() > deadline) {
        results[index].editStatus = edit.status;
        if (edit.status !== 'succeeded') {
          results[index].problem =
            `accepted, then ${edit.status}${edit.error ? ` (${edit.error.code}: ${edit.error.message})` : ''}`;
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const alive = await fetch(`${api}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  service.kill('SIGTERM');
  const exit = await service.exited;
  await imageHost.stop();
  canary.close();
  rmSync(dir, { recursive: true, force: true });
  const report: HostileReport = {
    interfaces: Object.keys(networkInterfaces()),
    privateAddresses,
    privateNamesResolved: wrapper !== null,
    results,
    canaryHits,
    serviceAliveAfter: alive,
    serviceExit: { code: exit.code, signal: exit.signal },
    durationMs: Date.now() - started,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`hostile probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
