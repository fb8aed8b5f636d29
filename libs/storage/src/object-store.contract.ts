// Shared behaviour every ObjectStore backend must have. A backend's int-spec calls
// `describeObjectStoreContract(name, setup)` against the real service (S3ObjectStore: test/integration/storage).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import type { ObjectStore } from './object-store.port';
import { ObjectNotFoundError, StorageError } from './storage-errors';

export interface ObjectStoreUnderTest {
  store: ObjectStore;
  /**
   * Whether the backend checks presigned signatures, so that an upload of another type or size is refused.
   * s3rver does not verify SigV4 at all; real S3 and MinIO do. @defaultValue true
   */
  enforcesUploadConditions?: boolean;
  /** Called once after the suite. */
  teardown(): Promise<void>;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Presigned URLs point at a local test server; node:http lets the test send exact headers. */
function sendRaw(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream that yields `bytes` in uneven chunks, as a network or an encoder would. */
function chunkedStream(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, size = 1; offset < bytes.length; offset += size, size = (size * 7 + 13) % 65_536 || 1) {
    chunks.push(bytes.subarray(offset, offset + size));
  }
  return Readable.from(chunks);
}

export function describeObjectStoreContract(name: string, setup: () => Promise<ObjectStoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ObjectStoreUnderTest;
    let store: ObjectStore;
    const prefix = `contract-${randomUUID()}/`;
    const keyFor = (label: string) => `${prefix}${label}-${randomUUID()}`;

    before(async () => {
      subject = await setup();
      store = subject.store;
    });
    after(async () => {
      await subject?.teardown();
    });

    it('puts a buffer and gets the same bytes, type and metadata back', async () => {
      const key = keyFor('buffer');
      const bytes = randomBytes(4096);
      const stored = await store.put(key, bytes, { contentType: 'image/png', metadata: { edit: 'e_1' } });
      assert.equal(stored.size, bytes.length);
      const object = await store.get(key);
      assert.deepEqual(await readAll(object.body), bytes);
      assert.equal(object.contentType, 'image/png');
      assert.equal(object.size, bytes.length);
      assert.equal(object.metadata.edit, 'e_1');
    });

    it('streams a large body of known length without altering a byte', async () => {
      const key = keyFor('stream');
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      await store.put(key, chunkedStream(bytes), { contentType: 'image/webp', contentLength: bytes.length });
      const info = await store.head(key);
      assert.equal(info?.size, bytes.length);
      assert.deepEqual(await readAll((await store.get(key)).body), bytes);
    });

    it('accepts a stream of unknown length', async () => {
      const key = keyFor('unknown-length');
      const bytes = randomBytes(200_001);
      const stored = await store.put(key, chunkedStream(bytes), { contentType: 'application/octet-stream' });
      assert.equal(stored.size, bytes.length);
      assert.deepEqual(await readAll((await store.get(key)).body), bytes);
    });

    it('overwrites an existing key', async () => {
      const key = keyFor('overwrite');
      await store.put(key, Buffer.from('first'), { contentType: 'text/plain' });
      await store.put(key, Buffer.from('second run'), { contentType: 'text/csv' });
      const object = await store.get(key);
      assert.equal((await readAll(object.body)).toString(), 'second run');
      assert.equal(object.contentType, 'text/csv');
    });

    it('reports a missing object as absent and as ObjectNotFoundError', async () => {
      const key = keyFor('missing');
      assert.equal(await store.head(key), null);
      assert.equal(await store.exists(key), false);
      await assert.rejects(store.get(key), (error: unknown) => {
        assert.ok(error instanceof ObjectNotFoundError);
        assert.equal(error.code, 'object_not_found');
        return true;
      });
    });

    it('head describes a stored object', async () => {
      const key = keyFor('head');
      const before = Date.now();
      await store.put(key, Buffer.alloc(123, 1), { contentType: 'image/jpeg' });
      const info = await store.head(key);
      assert.ok(info);
      assert.equal(info.size, 123);
      assert.equal(info.contentType, 'image/jpeg');
      // Object timestamps have one-second resolution on S3.
      assert.ok(info.lastModified.getTime() >= Math.floor(before / 1000) * 1000 - 1000);
      assert.equal(await store.exists(key), true);
    });

    it('deletes an object, and deleting it again succeeds', async () => {
      const key = keyFor('delete');
      await store.put(key, Buffer.from('x'), { contentType: 'text/plain' });
      await store.delete(key);
      assert.equal(await store.exists(key), false);
      await store.delete(key);
    });

    it('presigns a GET that downloads the object with its content type', async () => {
      const key = keyFor('presign-get');
      const bytes = randomBytes(1000);
      await store.put(key, bytes, { contentType: 'image/png' });
      const started = Date.now();
      const signed = await store.presignGet(key, { expiresInSeconds: 3600 });
      const expiresIn = signed.expiresAt.getTime() - started;
      assert.ok(expiresIn > 3590_000 && expiresIn < 3610_000, `expiresAt ${signed.expiresAt.toISOString()}`);
      const response = await sendRaw(signed.url, 'GET', {});
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'image/png');
      assert.deepEqual(response.body, bytes);
    });

    it('a presigned GET stops working after it expires', async () => {
      const key = keyFor('presign-expired');
      await store.put(key, Buffer.from('soon gone'), { contentType: 'text/plain' });
      const signed = await store.presignGet(key, { expiresInSeconds: 1 });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const response = await sendRaw(signed.url, 'GET', {});
      assert.equal(response.status, 403);
    });

    it('refuses presign lifetimes outside 1 s … 7 days', async () => {
      for (const expiresInSeconds of [0, 604_801, 1.5]) {
        await assert.rejects(store.presignGet(keyFor('bad-expiry'), { expiresInSeconds }), (error: unknown) => {
          assert.ok(error instanceof StorageError);
          assert.equal(error.code, 'invalid_argument');
          return true;
        });
      }
    });

    it('presigns a PUT that uploads the declared type and size', async () => {
      const key = keyFor('presign-put');
      const bytes = randomBytes(2048);
      const signed = await store.presignPut(key, {
        expiresInSeconds: 900,
        contentType: 'image/jpeg',
        contentLength: bytes.length,
      });
      assert.equal(signed.method, 'PUT');
      assert.deepEqual(signed.headers, { 'content-type': 'image/jpeg', 'content-length': String(bytes.length) });
      const accepted = await sendRaw(signed.url, 'PUT', signed.headers, bytes);
      assert.equal(accepted.status, 200, accepted.body.toString());
      const info = await store.head(key);
      assert.equal(info?.size, bytes.length);
      assert.equal(info?.contentType, 'image/jpeg');
      assert.deepEqual(await readAll((await store.get(key)).body), bytes);
    });

    it('a presigned PUT refuses another type or size', async (t) => {
      if (subject.enforcesUploadConditions === false) {
        t.skip('this backend does not verify presigned signatures');
        return;
      }
      const key = keyFor('presign-put-conditions');
      const bytes = randomBytes(2048);
      const signed = await store.presignPut(key, {
        expiresInSeconds: 900,
        contentType: 'image/jpeg',
        contentLength: bytes.length,
      });
      const wrongType = await sendRaw(signed.url, 'PUT', { ...signed.headers, 'content-type': 'image/png' }, bytes);
      assert.equal(wrongType.status, 403, 'another content type must be refused');
      const larger = Buffer.concat([bytes, Buffer.from('!')]);
      const wrongSize = await sendRaw(
        signed.url,
        'PUT',
        { ...signed.headers, 'content-length': String(larger.length) },
        larger,
      );
      assert.equal(wrongSize.status, 403, 'another size must be refused');
      assert.equal(await store.exists(key), false);
    });

    it('deleteOlderThan removes only old objects under the prefix', async () => {
      const sweepPrefix = `${prefix}sweep-${randomUUID()}/`;
      const keep = keyFor('outside-sweep');
      await store.put(`${sweepPrefix}a`, Buffer.from('a'), { contentType: 'text/plain' });
      await store.put(`${sweepPrefix}nested/b`, Buffer.from('b'), { contentType: 'text/plain' });
      await store.put(keep, Buffer.from('k'), { contentType: 'text/plain' });

      assert.equal(await store.deleteOlderThan(sweepPrefix, 3600_000), 0, 'fresh objects stay');
      const inTwoHours = new Date(Date.now() + 2 * 3600_000);
      assert.equal(await store.deleteOlderThan(sweepPrefix, 3600_000, inTwoHours), 2);
      assert.equal(await store.exists(`${sweepPrefix}a`), false);
      assert.equal(await store.exists(`${sweepPrefix}nested/b`), false);
      assert.equal(await store.exists(keep), true);
    });
  });
}
