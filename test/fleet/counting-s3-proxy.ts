// A pass-through HTTP proxy in front of s3rver that records every successful object write, so the fleet test can
// prove that no output was written twice (a re-run edit would PUT its deterministic `outputs/<tenant>/<edit>` key
// again). Loopback only.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ObjectWrite {
  key: string;
  at: number;
}

export interface CountingS3Proxy {
  endpoint: string;
  /** Successful PUTs (2xx), in order. */
  writes: ObjectWrite[];
  stop(): Promise<void>;
}

export async function startCountingS3Proxy(upstream: string, bucket: string): Promise<CountingS3Proxy> {
  const target = new URL(upstream);
  const writes: ObjectWrite[] = [];
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const forwarded = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        const path = decodeURIComponent(new URL(incoming.url ?? '/', 'http://proxy').pathname);
        const prefix = `/${bucket}/`;
        if (incoming.method === 'PUT' && path.startsWith(prefix) && (answer.statusCode ?? 500) < 300) {
          writes.push({ key: path.slice(prefix.length), at: Date.now() });
        }
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    writes,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
