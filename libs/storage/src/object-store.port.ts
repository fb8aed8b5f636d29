import type { Readable } from 'node:stream';

/**
 * Retention of stored objects (CONTRACT.md "The edit object": kept 7 days by default).
 *
 * On real S3 the bucket should carry a lifecycle rule expiring the service's prefixes after this many days; that
 * is an operator setting, not something the service changes at runtime. s3rver (the embedded default) has no
 * lifecycle support, so the service also runs `ObjectStore.deleteOlderThan(prefix, age)` periodically, which is
 * harmless next to a lifecycle rule.
 */
export const DEFAULT_OBJECT_RETENTION_DAYS = 7;

/** SigV4 presigned URLs cannot live longer than 7 days. */
export const MAX_PRESIGN_EXPIRY_SECONDS = 7 * 24 * 3600;

export type ObjectBody = Buffer | Uint8Array | Readable;

export interface PutObjectOptions {
  /** MIME type stored with the object and returned by `get`/`head` and presigned GETs. */
  contentType: string;
  /**
   * Byte length of a stream body. A single S3 PUT needs it up front; a stream without it is read into memory
   * first (bounded by the store's buffering cap). Ignored for Buffer bodies.
   */
  contentLength?: number;
  /** User metadata (`x-amz-meta-*`); keys are lower-cased by S3. @defaultValue {} */
  metadata?: Readonly<Record<string, string>>;
}

export interface StoredObject {
  key: string;
  /** Entity tag without quotes, or null when the backend gave none. */
  etag: string | null;
  size: number;
}

export interface ObjectInfo extends StoredObject {
  contentType: string | null;
  lastModified: Date;
  metadata: Record<string, string>;
}

export interface ObjectStream extends ObjectInfo {
  /** The object's bytes; the caller must consume or destroy it. */
  body: Readable;
}

export interface PresignGetOptions {
  /** Lifetime of the URL, 1 … 604800 s. */
  expiresInSeconds: number;
  /** Sets `Content-Disposition` on the download, e.g. `attachment; filename="edit.png"`. @defaultValue none */
  contentDisposition?: string;
}

export interface PresignedGet {
  url: string;
  expiresAt: Date;
}

export interface PresignPutOptions {
  /** Lifetime of the URL, 1 … 604800 s. */
  expiresInSeconds: number;
  /** The upload must send exactly this `Content-Type` (it is part of the signature). */
  contentType: string;
  /** The upload must send exactly this many bytes (`Content-Length` is part of the signature). */
  contentLength: number;
}

export interface PresignedPut {
  url: string;
  method: 'PUT';
  /** Headers the uploader must send verbatim, else the store answers 403. */
  headers: { 'content-type': string; 'content-length': string };
  expiresAt: Date;
}

/** Object storage for input images and outputs; the only backend today is `S3ObjectStore`. */
export interface ObjectStore {
  /** Stores (or overwrites) `key`. */
  put(key: string, body: ObjectBody, options: PutObjectOptions): Promise<StoredObject>;
  /** Streams `key`; throws `ObjectNotFoundError` when absent. */
  get(key: string): Promise<ObjectStream>;
  /** Metadata of `key`, or null when absent. */
  head(key: string): Promise<ObjectInfo | null>;
  exists(key: string): Promise<boolean>;
  /** Removes `key`; removing an absent key succeeds. */
  delete(key: string): Promise<void>;
  presignGet(key: string, options: PresignGetOptions): Promise<PresignedGet>;
  presignPut(key: string, options: PresignPutOptions): Promise<PresignedPut>;
  /**
   * Deletes every object under `prefix` last modified more than `maxAgeMs` before `now`; returns how many.
   * The retention sweep for backends without lifecycle rules (see DEFAULT_OBJECT_RETENTION_DAYS).
   */
  deleteOlderThan(prefix: string, maxAgeMs: number, now?: Date): Promise<number>;
}
