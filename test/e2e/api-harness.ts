import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { createApiApp, createApiDeps, type ApiRuntime } from '@step1x/api';
import { loadConfig, type AppConfig } from '@step1x/config';
import { closeRedisClient, createRedisClient, RedisEditRepository, RedisKeys } from '@step1x/edit-store';
import { S3ObjectStore } from '@step1x/storage';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { s3rverEnv, startS3rver, type S3rverHandle } from '../support/s3rver';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/** Two tenants seeded through API_KEYS, as a deployment would. */
export const TENANTS = {
  acme: { id: 'acme', key: 'sk_test_acme_0123456789' },
  globex: { id: 'globex', key: 'sk_test_globex_0123456789' },
} as const;

export interface ApiHarness {
  baseUrl: string;
  config: AppConfig;
  redis: RedisServerHandle;
  s3: S3rverHandle;
  /** The same store of record the API uses: tests stand in for the (later) worker through it. */
  edits: RedisEditRepository;
  objectStore: S3ObjectStore;
  /** fetch against the API with a tenant's key (or none). */
  call(path: string, init?: RequestInit & { tenant?: keyof typeof TENANTS | null }): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * The real API in this process, listening on 127.0.0.1, over a real redis-server and s3rver (test/support).
 * `env` overrides variables (e.g. QUEUE_MAX_DEPTH) exactly as a deployment would set them.
 */
export async function startApiHarness(env: Record<string, string> = {}): Promise<ApiHarness> {
  const redis = await startRedisServer();
  const s3 = await startS3rver();
  const config = loadConfig({
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'e2e',
    ...s3rverEnv(s3),
    API_KEYS: `${TENANTS.acme.id}:${TENANTS.acme.key},${TENANTS.globex.id}:${TENANTS.globex.key}`,
    EGRESS_ALLOWLIST: '127.0.0.2/32',
    LOG_LEVEL: 'error',
    ...env,
  });
  let runtime: ApiRuntime | null = null;
  const client = createRedisClient(redis.url);
  try {
    runtime = await createApiDeps(config, { ensureBucket: true });
    const app = await createApiApp(config, runtime.deps, { logger: ['fatal', 'error'] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.getHttpServer().address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}`;
    const objectStore = runtime.deps.objectStore as S3ObjectStore;
    const edits = new RedisEditRepository(client, new RedisKeys(config.redis.keyPrefix), {
      retentionDays: config.retention.editRecordDays,
    });
    const opened = runtime;
    return {
      baseUrl,
      config,
      redis,
      s3,
      edits,
      objectStore,
      call: (path, init = {}) => {
        const { tenant = 'acme', ...rest } = init;
        const headers = new Headers(rest.headers);
        if (tenant) headers.set('authorization', `Bearer ${TENANTS[tenant].key}`);
        return fetch(`${baseUrl}${path}`, { ...rest, headers });
      },
      stop: async () => {
        await app.close();
        await opened.close();
        await closeRedisClient(client);
        await s3.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await runtime?.close();
    await closeRedisClient(client);
    await s3.stop();
    await redis.stop();
    throw error;
  }
}

export interface ApiWithImageHost {
  api: ApiHarness;
  /** Serves `image_url` inputs from 127.0.0.2, the one address the harness's EGRESS_ALLOWLIST lets through. */
  images: WebhookReceiver;
  /** A PNG of the size asked for, to upload or serve. */
  png: Buffer;
  /** Stops the image host, then the API. */
  stop(): Promise<void>;
}

/** `startApiHarness()` plus a host for the images edits name by URL. */
export async function startApiWithImageHost(pngWidth: number, pngHeight: number): Promise<ApiWithImageHost> {
  const png = await pngOf(pngWidth, pngHeight);
  const api = await startApiHarness();
  let images: WebhookReceiver;
  try {
    images = await startWebhookReceiver({ host: '127.0.0.2' });
  } catch (error) {
    await api.stop();
    throw error;
  }
  const stop = async () => {
    await images.stop();
    await api.stop();
  };
  return { api, images, png, stop };
}

/** A small real PNG (solid colour) of the given size. */
export function pngOf(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .png()
    .toBuffer();
}

/** A multipart body with an `image` part (when given) and string fields. */
export function multipartOf(fields: Record<string, string>, image?: { bytes: Buffer; type?: string }): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (image) form.append('image', new Blob([image.bytes], { type: image.type ?? 'image/png' }), 'input.png');
  return form;
}

export function jsonInit(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export interface ErrorBodyShape {
  error: { code: string; message: string; param: string | null };
}

/** Reads an error answer and checks its shape: `{ error: { code, message, param } }`. */
export async function errorOf(response: Response): Promise<ErrorBodyShape['error'] & { status: number }> {
  const body = (await response.json()) as ErrorBodyShape;
  if (
    !body.error ||
    typeof body.error.code !== 'string' ||
    typeof body.error.message !== 'string' ||
    !('param' in body.error)
  ) {
    throw new Error(`not the contract's error shape: ${JSON.stringify(body)}`);
  }
  return { ...body.error, status: response.status };
}
