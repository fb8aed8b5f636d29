import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A plain HTTP proxy in front of s3rver that sees every S3 request the service makes, on a port that stays the
 * same while s3rver behind it is stopped and restarted. It counts the PUTs that S3 acknowledged per object key:
 * an output written twice for one edit shows up here whatever the service believes it did. `down()` closes the
 * listening socket and drops open connections, so clients see a refused connection as they would with S3 gone.
 */
export interface S3CountingProxy {
  /** `http://127.0.0.1:port`: the S3 endpoint handed to the service. */
  readonly endpoint: string;
  /** Successful (2xx) PUTs per object key (path after the bucket). */
  successfulPuts(key: string): number;
  /** Successful PUTs of every key under `prefix`, added up. */
  successfulPutsUnder(prefix: string): number;
  /**
   * Calls `hook` once S3 has acknowledged a PUT of a key under `prefix`, before the writer hears of it (the answer
   * is held until the hook resolves): the moment to kill a writer that must not learn its write succeeded.
   */
  onAcknowledgedPut(prefix: string, hook: ((key: string) => Promise<void>) | null): void;
  setUpstream(port: number): void;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3CountingProxy(bucket: string, upstreamPort: number): Promise<S3CountingProxy> {
  let upstream = upstreamPort;
  let putHook: { prefix: string; hook: (key: string) => Promise<void> } | null = null;
  const puts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const bucketPrefix = `/${bucket}/`;

  const objectKeyOf = (url: string) => {
    const path = decodeURIComponent(url.split('?')[0]);
    return path.startsWith(bucketPrefix) ? path.slice(bucketPrefix.length) : null;
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const key = objectKeyOf(req.url ?? '');
        const isObjectPut = req.method === 'PUT' && key !== null && !(req.url ?? '').includes('uploadId=');
        const acknowledged = isObjectPut && answer.statusCode !== undefined && answer.statusCode < 300;
        let hold: Promise<void> = Promise.resolve();
        if (acknowledged && key !== null) {
          puts.set(key, (puts.get(key) ?? 0) + 1);
          if (putHook && key.startsWith(putHook.prefix)) hold = putHook.hook(key);
        }
        void hold.finally(() => {
          if (res.destroyed) return;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
      },
    );
    // Upstream gone mid-request (s3rver stopped): the client sees its connection drop, as with S3 gone.
    outgoing.on('error', () => req.socket.destroy());
    req.pipe(outgoing);
  };

  const server = createServer(forward);
  server.keepAliveTimeout = 1000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  const port = await listen(0);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    successfulPuts: (key) => puts.get(key) ?? 0,
    successfulPutsUnder: (prefix) => [...puts].reduce((sum, [k, n]) => (k.startsWith(prefix) ? sum + n : sum), 0),
    onAcknowledgedPut: (prefix, hook) => void (putHook = hook ? { prefix, hook } : null),
    setUpstream: (next) => void (upstream = next),
    down: close,
    up: async () => {
      if (!server.listening) await listen(port);
    },
    stop: close,
  };
}
