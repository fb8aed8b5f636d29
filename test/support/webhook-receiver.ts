import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  /** Path and query as sent. */
  path: string;
  /** Lower-cased header map. */
  headers: IncomingHttpHeaders;
  /** Header names and values exactly as sent, alternating. */
  rawHeaders: string[];
  /** The body's bytes, unparsed (signatures are over these). */
  body: Buffer;
  /** `body` as UTF-8. */
  text: string;
  receivedAt: Date;
  remoteAddress: string;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  /** @defaultValue '' */
  body?: string | Buffer;
  /** Wait this long before answering (to provoke client timeouts). @defaultValue 0 */
  delayMs?: number;
}

export type Responder = (request: ReceivedRequest) => ScriptedResponse | Promise<ScriptedResponse>;

export interface StartWebhookReceiverOptions {
  /** Address to bind; the default is a loopback address the egress allowlist in tests names. @defaultValue '127.0.0.2' */
  host?: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** Answers used in order, one per request, before falling back to `defaultResponse`. @defaultValue [] */
  responses?: readonly ScriptedResponse[];
  /** @defaultValue { status: 200, body: 'ok' } */
  defaultResponse?: ScriptedResponse;
}

export interface WebhookReceiver {
  /** `http://host:port` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Everything received so far, in order. */
  readonly requests: readonly ReceivedRequest[];
  /** `url` + `path`. */
  urlFor(path: string): string;
  /** Appends answers to the queue consumed one per request. */
  enqueue(...responses: ScriptedResponse[]): void;
  /** Answers every request with `responder` (the queue is ignored while set); null restores the queue. */
  setResponder(responder: Responder | null): void;
  /** Resolves with all requests once `predicate(requests)` holds; rejects after `timeoutMs`. */
  waitFor(predicate: (requests: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Resolves with the first request matching `match`. */
  waitForRequest(match: (request: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest>;
  /** Forgets received requests (not the queue). */
  clear(): void;
  stop(): Promise<void>;
}

interface Waiter {
  check(): boolean;
}

const DEFAULT_WAIT_MS = 10_000;

/** A real HTTP server that records webhook deliveries and answers them as the test scripts. */
export async function startWebhookReceiver(options: StartWebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const host = options.host ?? '127.0.0.2';
  const queue: ScriptedResponse[] = [...(options.responses ?? [])];
  const fallback = options.defaultResponse ?? { status: 200, body: 'ok' };
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<Waiter>();
  let responder: Responder | null = null;
  let received = 0;

  const notify = () => {
    for (const waiter of waiters) if (waiter.check()) waiters.delete(waiter);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const request: ReceivedRequest = {
      index: received++,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
      text: body.toString('utf8'),
      receivedAt: new Date(),
      remoteAddress: req.socket.remoteAddress ?? '',
    };
    requests.push(request);
    notify();
    const answer = responder ? await responder(request) : (queue.shift() ?? fallback);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body ?? '');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(599);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const waitFor = (predicate: (all: readonly ReceivedRequest[]) => boolean, timeoutMs = DEFAULT_WAIT_MS) =>
    new Promise<ReceivedRequest[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`webhook receiver: condition not met within ${timeoutMs} ms; got ${summarize(requests)}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check() {
          if (!predicate(requests)) return false;
          clearTimeout(timer);
          resolve([...requests]);
          return true;
        },
      };
      if (!waiter.check()) waiters.add(waiter);
    });

  return {
    url,
    host,
    port,
    requests,
    urlFor: (path) => `${url}${path.startsWith('/') ? '' : '/'}${path}`,
    enqueue: (...responses) => void queue.push(...responses),
    setResponder: (next) => void (responder = next),
    waitFor,
    async waitForRequest(match, timeoutMs = DEFAULT_WAIT_MS) {
      const all = await waitFor((current) => current.some(match), timeoutMs);
      return all.find(match) as ReceivedRequest;
    },
    clear: () => void requests.splice(0, requests.length),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function summarize(requests: readonly ReceivedRequest[]): string {
  if (requests.length === 0) return 'no requests';
  const lines = requests.map((r) => `#${r.index} ${r.method} ${r.path} ${r.text.slice(0, 120)}`);
  return `${requests.length} request(s):\n${lines.join('\n')}`;
}
