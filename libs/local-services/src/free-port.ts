import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago. Another process can take it before the caller binds, so
 * callers that spawn a server on it retry with a new port when the bind fails (see redis-server.ts).
 */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the port bound on ${host}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
