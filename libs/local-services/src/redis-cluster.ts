import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from './free-port';
import { LocalServiceError } from './local-service-error';
import { startRedisServer, type RedisServerHandle } from './redis-server';

const run = promisify(execFile);

export interface StartRedisClusterOptions {
  /** Masters (no replicas). Redis Cluster needs at least 3. @defaultValue 3 */
  masters?: number;
  /** How long to wait for `cluster_state:ok` on every node after `--cluster create`. @defaultValue 20000 */
  readyTimeoutMs?: number;
}

export interface RedisClusterHandle {
  /** The nodes, each a redis-server with `cluster-enabled yes`, slots spread evenly by `redis-cli --cluster create`. */
  nodes: readonly RedisServerHandle[];
  /** `redis://host:port` of the first node: a seed for REDIS_URL with REDIS_CLUSTER=true. */
  url: string;
  /** Stops every node and deletes their directories. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Each node also listens on its cluster bus port, its port + 10000 (Redis's fixed offset). */
const BUS_PORT_OFFSET = 10_000;
const PORT_ATTEMPTS = 5;

/**
 * A throw-away local Redis Cluster (dev and test only, like `startRedisServer`): `masters` redis-servers with
 * `--cluster-enabled yes` in a temp dir, joined by `redis-cli --cluster create … --cluster-replicas 0`, ready once
 * every node says `cluster_state:ok`. Nothing persists (no RDB, no AOF).
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new RangeError('a Redis Cluster needs at least 3 masters');
  const root = mkdtempSync(join(tmpdir(), 'step1x-redis-cluster-'));
  const nodes: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startClusterNode(join(root, `node-${i}`)));
    const addresses = nodes.map((node) => `${node.host}:${node.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new LocalServiceError(
        'local_service_failed',
        `redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`,
      );
    });
    await waitForClusterOk(nodes, options.readyTimeoutMs ?? 20_000);
    return { nodes, url: nodes[0].url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startClusterNode(dir: string): Promise<RedisServerHandle> {
  mkdirSync(dir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePortWithFreeBus();
    try {
      return await startRedisServer({
        host: HOST,
        port,
        dir,
        extraArgs: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, 'nodes.conf'),
          '--cluster-node-timeout', '5000',
        ], // prettier-ignore
      });
    } catch (error) {
      // Another process may have taken the port (or its bus port) meanwhile: try another pair.
      if (attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** A free port whose bus port (port + 10000) is free too. */
async function freePortWithFreeBus(): Promise<number> {
  for (;;) {
    const port = await getFreePort(HOST);
    if (port + BUS_PORT_OFFSET <= 65_535 && (await portIsFree(port + BUS_PORT_OFFSET))) return port;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: HOST, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function waitForClusterOk(nodes: readonly RedisServerHandle[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(nodes.map((node) => clusterInfo(node.host, node.port)));
    if (states.every((info) => /cluster_state:ok/.test(info))) return;
    if (Date.now() > deadline) {
      throw new LocalServiceError(
        'local_service_failed',
        `the local Redis Cluster was not ok within ${timeoutMs} ms:\n${states.join('\n---\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** CLUSTER INFO over a raw socket (this library has no Redis client): the reply's text, or '' on no answer. */
function clusterInfo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const finish = () => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, finish);
    socket.once('error', finish);
    socket.once('connect', () => socket.write('CLUSTER INFO\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      // A bulk reply `$<length>\r\n<text>\r\n`: done once the text is whole.
      const header = /^\$(\d+)\r\n/.exec(reply);
      if (header && reply.length >= header[0].length + Number(header[1]) + 2) finish();
      else if (reply.startsWith('-')) finish();
    });
  });
}
