import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '@step1x/config';
import { LocalServiceError, s3rverEnv, startRedisServer, startS3rver } from '@step1x/local-services';
import { encodeImageBytes, type RgbImage } from '@step1x/imaging';

/** What `npm start` adds when run without configuration, and how to take it down again. */
export interface LocalServices {
  /** Variables to lay over the environment before `loadConfig`. */
  env: Record<string, string>;
  /** The generated key, when API_KEYS was empty. */
  devKey: { tenantId: string; key: string } | null;
  /** A small PNG the printed curl example uploads. */
  exampleImagePath: string;
  /** What was started, for the banner. */
  started: string[];
  /** Stops the children and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export const DEV_TENANT = 'local';

/**
 * Local mode is "no REDIS_URL": redis-server on a free port in a temp dir, s3rver when S3_ENDPOINT is unset too
 * (with REDIS_URL set, an unset S3_ENDPOINT means AWS S3), a generated API key when API_KEYS is empty.
 */
export async function startLocalServices(config: AppConfig): Promise<LocalServices> {
  const root = mkdtempSync(join(tmpdir(), 'step1x-local-'));
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', removeRoot);
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne();
    removeRoot();
    process.removeListener('exit', removeRoot);
  };
  const env: Record<string, string> = {};
  const started: string[] = [];
  try {
    const redisDir = join(root, 'redis');
    mkdirSync(redisDir);
    const redis = await startRedisServer({ dir: redisDir });
    stops.push(() => redis.stop());
    env.REDIS_URL = redis.url;
    started.push(`redis-server at ${redis.url} (data in ${redisDir})`);

    if (!config.s3.endpoint) {
      const s3Dir = join(root, 's3');
      mkdirSync(s3Dir);
      const s3 = await startS3rver({ dir: s3Dir, bucket: config.s3.bucket }).catch(withS3EndpointHint);
      stops.push(() => s3.stop());
      Object.assign(env, s3rverEnv(s3));
      started.push(`s3rver at ${s3.endpoint}, bucket ${config.s3.bucket} (objects in ${s3Dir})`);
    }

    let devKey: LocalServices['devKey'] = null;
    if (config.auth.apiKeys.length === 0) {
      devKey = { tenantId: DEV_TENANT, key: `sk_local_${randomBytes(18).toString('hex')}` };
      env.API_KEYS = `${devKey.tenantId}:${devKey.key}`;
    }
    const exampleImagePath = join(root, 'example.png');
    writeFileSync(exampleImagePath, await encodeImageBytes(exampleImage(), 'png'));
    return { env, devKey, exampleImagePath, started, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Without s3rver installed, an S3_ENDPOINT of one's own is the other way to start. */
function withS3EndpointHint(error: unknown): never {
  if (error instanceof LocalServiceError && error.code === 'local_service_not_installed') {
    throw new LocalServiceError(error.code, `${error.message}, or set S3_ENDPOINT`);
  }
  throw error;
}

/** A 256×192 gradient: enough structure to see that something happened to it. */
function exampleImage(): RgbImage {
  const width = 256;
  const height = 192;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = x;
      data[i + 1] = Math.round((y / height) * 255);
      data[i + 2] = 160;
    }
  }
  return { width, height, data };
}
