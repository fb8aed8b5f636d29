// S3ObjectStore against a real s3rver process: the shared ObjectStore contract plus the S3-only operations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { S3ObjectStore, StorageError } from '@step1x/storage';
import { describeObjectStoreContract } from '@step1x/storage/object-store.contract';
import { startS3rver, type S3rverHandle } from '../../support/s3rver';

function storeFor(server: S3rverHandle, bucket: string): S3ObjectStore {
  return new S3ObjectStore({
    bucket,
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: server.credentials,
  });
}

describeObjectStoreContract('S3ObjectStore on s3rver', async () => {
  const server = await startS3rver();
  const store = storeFor(server, `contract-${randomUUID()}`);
  assert.equal(await store.createBucketIfMissing(), true);
  return {
    store,
    // s3rver accepts any well-formed SigV4 signature without checking it (see the test below for what we sign).
    enforcesUploadConditions: false,
    async teardown() {
      store.close();
      await server.stop();
    },
  };
});

describe('S3ObjectStore buckets', () => {
  let server: S3rverHandle;
  before(async () => {
    server = await startS3rver();
  });
  after(async () => {
    await server?.stop();
  });

  it('createBucketIfMissing creates once and then finds the bucket', async () => {
    const store = storeFor(server, `bucket-${randomUUID()}`);
    await assert.rejects(
      store.ping(),
      (error: unknown) => error instanceof StorageError && error.code === 'storage_unavailable',
    );
    assert.equal(await store.createBucketIfMissing(), true);
    assert.equal(await store.createBucketIfMissing(), false);
    await store.ping();
    store.close();
  });

  it('the bucket made by startS3rver exists', async () => {
    const store = storeFor(server, server.bucket);
    assert.equal(await store.createBucketIfMissing(), false);
    store.close();
  });

  it('writes presigned URLs for the public endpoint when one is set', async () => {
    const store = new S3ObjectStore({
      bucket: server.bucket,
      endpoint: server.endpoint,
      publicEndpoint: 'https://files.example.test',
      forcePathStyle: true,
      credentials: server.credentials,
    });
    const signed = await store.presignGet('some/key.png', { expiresInSeconds: 60 });
    assert.ok(signed.url.startsWith(`https://files.example.test/${server.bucket}/some/key.png?`), signed.url);
    store.close();
  });

  it('signs content-type and content-length into presigned PUT URLs, so S3 refuses other uploads', async () => {
    const store = storeFor(server, server.bucket);
    const signed = await store.presignPut('uploads/x.png', {
      expiresInSeconds: 900,
      contentType: 'image/png',
      contentLength: 1234,
    });
    const url = new URL(signed.url);
    const signedHeaders = url.searchParams.get('X-Amz-SignedHeaders')?.split(';') ?? [];
    assert.deepEqual(signedHeaders.sort(), ['content-length', 'content-type', 'host']);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    assert.equal(url.searchParams.has('x-amz-checksum-crc32'), false, 'no checksum the uploader cannot know');
    store.close();
  });

  it('reports an unreachable endpoint as storage_unavailable', async () => {
    const stopped = await startS3rver();
    await stopped.stop();
    const store = storeFor(stopped, stopped.bucket);
    await assert.rejects(
      store.head('x'),
      (error: unknown) => error instanceof StorageError && error.code === 'storage_unavailable',
    );
    store.close();
  });
});
