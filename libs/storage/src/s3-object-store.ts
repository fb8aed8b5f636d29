import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  MAX_PRESIGN_EXPIRY_SECONDS,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStream,
  type PresignedGet,
  type PresignedPut,
  type PresignGetOptions,
  type PresignPutOptions,
  type PutObjectOptions,
  type StoredObject,
} from './object-store.port';
import { ObjectNotFoundError, StorageError } from './storage-errors';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** @defaultValue 'us-east-1' */
  region?: string;
  /** Endpoint of an S3-compatible server (s3rver, MinIO); unset means AWS. @defaultValue undefined */
  endpoint?: string;
  /**
   * Endpoint written into presigned URLs when clients reach the store under another address than the service
   * (e.g. a Docker network name vs. a public host). @defaultValue `endpoint`
   */
  publicEndpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by s3rver and MinIO. @defaultValue false */
  forcePathStyle?: boolean;
  /** Static credentials; unset means the SDK's default provider chain. @defaultValue undefined */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Largest stream of unknown length read into memory before a PUT. @defaultValue 64 MiB */
  maxBufferedBytes?: number;
}

const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
const DELETE_BATCH_SIZE = 1000;

/** `ObjectStore` on S3 or an S3-compatible server. The only module importing `@aws-sdk/*`. */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly presignClient: S3Client;
  private readonly maxBufferedBytes: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.client = createClient(options, options.endpoint);
    this.presignClient =
      options.publicEndpoint && options.publicEndpoint !== options.endpoint
        ? createClient(options, options.publicEndpoint)
        : this.client;
  }

  /** Creates the bucket unless it exists; true when it was created. */
  async createBucketIfMissing(): Promise<boolean> {
    if (await this.bucketExists()) return false;
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (error) {
      // Another process may have created it between the HEAD and the CREATE.
      if (error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou') return false;
      throw toStorageError(error, `create bucket ${this.bucket}`);
    }
  }

  /** Throws `StorageError('storage_unavailable')` unless the bucket answers (for /readyz). */
  async ping(): Promise<void> {
    if (!(await this.bucketExists())) {
      throw new StorageError('storage_unavailable', `bucket ${this.bucket} does not exist`);
    }
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions): Promise<StoredObject> {
    const { bytes, stream, length } = await this.prepareBody(body, options.contentLength);
    try {
      const result = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes ?? stream,
          ContentLength: length,
          ContentType: options.contentType,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
        }),
      );
      return { key, etag: unquote(result.ETag), size: length };
    } catch (error) {
      throw toStorageError(error, `put ${key}`);
    }
  }

  async get(key: string): Promise<ObjectStream> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(result.Body instanceof Readable)) {
        throw new StorageError('storage_unavailable', `get ${key}: the SDK returned a non-stream body`);
      }
      return { ...toObjectInfo(key, result), body: result.Body };
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw toStorageError(error, `get ${key}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return toObjectInfo(key, result);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toStorageError(error, `head ${key}`);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw toStorageError(error, `delete ${key}`);
    }
  }

  async presignGet(key: string, options: PresignGetOptions): Promise<PresignedGet> {
    const expiresIn = checkExpiry(options.expiresInSeconds);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: options.contentDisposition,
    });
    const url = await getSignedUrl(this.presignClient, command, { expiresIn });
    return { url, expiresAt: new Date(Date.now() + expiresIn * 1000) };
  }

  async presignPut(key: string, options: PresignPutOptions): Promise<PresignedPut> {
    const expiresIn = checkExpiry(options.expiresInSeconds);
    if (!Number.isSafeInteger(options.contentLength) || options.contentLength < 0) {
      throw new StorageError('invalid_argument', `content length must be a non-negative integer`);
    }
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      ContentLength: options.contentLength,
    });
    // Signing both headers is what makes the store refuse an upload of another type or size.
    const url = await getSignedUrl(this.presignClient, command, {
      expiresIn,
      signableHeaders: new Set(['content-type', 'content-length']),
    });
    return {
      url,
      method: 'PUT',
      headers: { 'content-type': options.contentType, 'content-length': String(options.contentLength) },
      expiresAt: new Date(Date.now() + expiresIn * 1000),
    };
  }

  async deleteOlderThan(prefix: string, maxAgeMs: number, now: Date = new Date()): Promise<number> {
    const cutoff = now.getTime() - maxAgeMs;
    let deleted = 0;
    let continuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
        );
        const expired = (page.Contents ?? [])
          .filter((item) => item.Key !== undefined && (item.LastModified?.getTime() ?? Infinity) < cutoff)
          .map((item) => item.Key as string);
        deleted += await this.deleteKeys(expired);
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken);
    } catch (error) {
      throw toStorageError(error, `sweep ${prefix}`);
    }
    return deleted;
  }

  /** Releases the SDK's sockets. */
  close(): void {
    this.client.destroy();
    if (this.presignClient !== this.client) this.presignClient.destroy();
  }

  private async deleteKeys(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let start = 0; start < keys.length; start += DELETE_BATCH_SIZE) {
      const batch = keys.slice(start, start + DELETE_BATCH_SIZE);
      const result = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failures = result.Errors ?? [];
      if (failures.length > 0) {
        const first = failures[0];
        throw new StorageError(
          'storage_unavailable',
          `delete of ${failures.length} objects failed (first: ${first.Key}: ${first.Code} ${first.Message})`,
        );
      }
      deleted += batch.length;
    }
    return deleted;
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata?.httpStatusCode === 404) return false;
      throw toStorageError(error, `head bucket ${this.bucket}`);
    }
  }

  private async prepareBody(
    body: ObjectBody,
    contentLength: number | undefined,
  ): Promise<{ bytes?: Uint8Array; stream?: Readable; length: number }> {
    if (!(body instanceof Readable)) return { bytes: body, length: body.byteLength };
    if (contentLength !== undefined) return { stream: body, length: contentLength };
    const bytes = await readBounded(body, this.maxBufferedBytes);
    return { bytes, length: bytes.byteLength };
  }
}

function createClient(options: S3ObjectStoreOptions, endpoint: string | undefined): S3Client {
  return new S3Client({
    region: options.region ?? 'us-east-1',
    endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: options.credentials,
    // The default ('WHEN_SUPPORTED') sends streams aws-chunked with a trailing checksum; s3rver stores those
    // chunk frames as the object's bytes. Only checksum where an operation demands it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function readBounded(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buffer.byteLength;
    if (total > maxBytes) {
      stream.destroy();
      throw new StorageError(
        'invalid_argument',
        `stream of unknown length exceeds ${maxBytes} bytes; pass contentLength to stream it`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

function checkExpiry(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_EXPIRY_SECONDS) {
    throw new StorageError(
      'invalid_argument',
      `presign expiry must be an integer in 1..${MAX_PRESIGN_EXPIRY_SECONDS} s, got ${seconds}`,
    );
  }
  return seconds;
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  // A missing bucket is a deployment fault, not a missing object (HEAD has no body to tell them apart).
  if (error.name === 'NoSuchBucket') return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata?.httpStatusCode === 404;
}

function toStorageError(error: unknown, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError('storage_unavailable', `${action} failed: ${detail}`, { cause: error });
}

function unquote(etag: string | undefined): string | null {
  return etag ? etag.replace(/^"|"$/g, '') : null;
}

/** S3 settings as the service's configuration holds them (`AppConfig['s3']`), where null means unset. */
export interface S3Settings {
  bucket: string;
  region: string;
  endpoint: string | null;
  forcePathStyle: boolean;
  accessKeyId: string | null;
  secretAccessKey: string | null;
}

/**
 * The store every role of the service builds from its configuration: AWS when no endpoint is set, and static
 * credentials only when both halves are given (else the SDK's provider chain, e.g. an instance role).
 */
export function createS3ObjectStore(settings: S3Settings): S3ObjectStore {
  const { accessKeyId, secretAccessKey } = settings;
  return new S3ObjectStore({
    bucket: settings.bucket,
    region: settings.region,
    endpoint: settings.endpoint ?? undefined,
    forcePathStyle: settings.forcePathStyle,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  });
}

/** The object facts GET and HEAD both answer with. */
function toObjectInfo(
  key: string,
  result: {
    ContentLength?: number;
    ETag?: string;
    ContentType?: string;
    LastModified?: Date;
    Metadata?: Record<string, string>;
  },
): ObjectInfo {
  return {
    key,
    size: result.ContentLength ?? 0,
    etag: unquote(result.ETag),
    contentType: result.ContentType ?? null,
    lastModified: result.LastModified ?? new Date(0),
    metadata: result.Metadata ?? {},
  };
}
