import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type EditImageSource } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { UploadStore } from '@step1x/edit-store';
import { ObjectNotFoundError, type ObjectStore, type ObjectStream } from '@step1x/storage';
import { DEPS, type ImageFetcher, type ImageInspector } from '../api-deps';

/** A multipart `image` part, read into memory (bounded by MAX_UPLOAD_BYTES). */
export interface UploadedImage {
  bytes: Buffer;
  contentType: string | null;
}

/** Validated input image bytes, ready to be stored for the worker. */
export interface AcceptedImage {
  bytes: Buffer;
  sha256: string;
  width: number;
  height: number;
  contentType: string;
}

const PARAM_FOR: Readonly<Record<EditImageSource['kind'], string>> = {
  upload: 'image',
  url: 'image_url',
  key: 'image_key',
};

/** The prefix under which a tenant's presigned uploads live; an `image_key` outside it is not theirs. */
export function uploadPrefix(tenantId: string): string {
  return `uploads/${tenantId}/`;
}

async function readBounded(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      stream.destroy();
      throw new ApiError(ErrorCode.PayloadTooLarge, `the image exceeds ${maxBytes} bytes`, { param: 'image_key' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Gets the input image from whichever source the request named and validates it before the edit is accepted:
 * a bad image is a 422 now, never a failed edit later (CONTRACT.md POST /v1/edits).
 */
@Injectable()
export class ImageIntakeService {
  constructor(
    @Inject(DEPS.imageFetcher) private readonly fetcher: ImageFetcher,
    @Inject(DEPS.imageInspector) private readonly inspector: ImageInspector,
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(DEPS.uploads) private readonly uploads: UploadStore,
    @Inject(DEPS.config) private readonly config: AppConfig,
  ) {}

  async accept(tenantId: string, source: EditImageSource, upload: UploadedImage | null): Promise<AcceptedImage> {
    const { bytes, contentType } = await this.obtain(tenantId, source, upload);
    const param = PARAM_FOR[source.kind];
    if (bytes.length > this.config.limits.maxUploadBytes) {
      throw new ApiError(ErrorCode.PayloadTooLarge, `the image exceeds ${this.config.limits.maxUploadBytes} bytes`, {
        param,
      });
    }
    let size: { width: number; height: number };
    try {
      size = await this.inspector.inspect(bytes);
    } catch (error) {
      if (error instanceof ApiError) throw new ApiError(error.code, error.message, { param, cause: error });
      throw error;
    }
    return {
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      ...size,
      contentType: contentType && /^image\/[\w.+-]+$/.test(contentType) ? contentType : 'application/octet-stream',
    };
  }

  private async obtain(
    tenantId: string,
    source: EditImageSource,
    upload: UploadedImage | null,
  ): Promise<{ bytes: Buffer; contentType: string | null }> {
    switch (source.kind) {
      case 'upload':
        if (!upload) throw new ApiError(ErrorCode.InvalidRequest, 'the image file is missing', { param: 'image' });
        return upload;
      case 'url': {
        const fetched = await this.fetcher.fetch(source.url);
        return { bytes: fetched.bytes, contentType: fetched.contentType?.split(';')[0].trim() ?? null };
      }
      case 'key':
        return this.readUpload(tenantId, source.key);
    }
  }

  /**
   * A presigned upload: it must be this tenant's, declared, present, and of the declared size and type. Real S3
   * refuses a PUT whose Content-Type or Content-Length differ from the signed ones, but an S3-compatible store
   * need not (s3rver does not), and a 0-byte or partial object is still possible: the API re-checks what was
   * stored (the GET's headers) against the declaration before reading its body (docs/ARCHITECTURE.md "Presigned uploads").
   */
  private async readUpload(tenantId: string, key: string): Promise<{ bytes: Buffer; contentType: string | null }> {
    const unknown = () =>
      new ApiError(ErrorCode.InvalidRequest, 'image_key is not an upload of yours (POST /v1/uploads first)', {
        param: 'image_key',
      });
    if (!key.startsWith(uploadPrefix(tenantId))) throw unknown();
    const declared = await this.uploads.find(key);
    if (!declared || declared.tenantId !== tenantId) throw unknown();
    // One GET (no HEAD first): its headers carry the size, checked before the body is read.
    let object: ObjectStream;
    try {
      object = await this.objectStore.get(key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        throw new ApiError(ErrorCode.InvalidRequest, 'nothing was uploaded to image_key yet', { param: 'image_key' });
      }
      throw error;
    }
    const refuse = (error: ApiError): never => {
      object.body.destroy();
      throw error;
    };
    if (object.size > this.config.limits.maxUploadBytes || object.size > declared.size) {
      refuse(
        new ApiError(
          ErrorCode.PayloadTooLarge,
          `the upload has ${object.size} bytes, more than the ${declared.size} declared`,
          {
            param: 'image_key',
          },
        ),
      );
    }
    if (object.size < declared.size) {
      refuse(
        new ApiError(
          ErrorCode.InvalidRequest,
          `the upload has ${object.size} bytes, but ${declared.size} were declared (incomplete upload?)`,
          { param: 'image_key' },
        ),
      );
    }
    const storedType = object.contentType?.split(';')[0].trim().toLowerCase() ?? null;
    if (storedType !== declared.contentType) {
      refuse(
        new ApiError(
          ErrorCode.UnsupportedMediaType,
          `the upload was stored as ${storedType ?? 'no content type'}, but ${declared.contentType} was declared`,
          { param: 'image_key' },
        ),
      );
    }
    return {
      bytes: await readBounded(object.body, this.config.limits.maxUploadBytes),
      contentType: declared.contentType,
    };
  }
}
