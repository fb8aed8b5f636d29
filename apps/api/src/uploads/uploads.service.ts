import { Inject, Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, ulid, type UploadRequest, type UploadTicket } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { UploadStore } from '@step1x/edit-store';
import type { ObjectStore } from '@step1x/storage';
import { DEPS } from '../api-deps';
import { uploadPrefix } from '../edits/image-intake.service';

/** Presigned PUTs for input images: the bytes go straight to S3, never through the API or Redis. */
@Injectable()
export class UploadsService {
  constructor(
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(DEPS.uploads) private readonly uploads: UploadStore,
    @Inject(DEPS.config) private readonly config: AppConfig,
  ) {}

  async createTicket(tenantId: string, request: UploadRequest): Promise<UploadTicket> {
    const max = this.config.limits.maxUploadBytes;
    if (request.size > max) {
      throw new ApiError(ErrorCode.PayloadTooLarge, `uploads are limited to ${max} bytes`, { param: 'size' });
    }
    const imageKey = `${uploadPrefix(tenantId)}${ulid()}`;
    const presigned = await this.objectStore.presignPut(imageKey, {
      expiresInSeconds: this.config.limits.uploadUrlTtlS,
      contentType: request.content_type,
      contentLength: request.size,
    });
    const expiresAt = presigned.expiresAt.toISOString();
    await this.uploads.remember(imageKey, {
      tenantId,
      contentType: request.content_type,
      size: request.size,
      expiresAt,
    });
    return {
      image_key: imageKey,
      upload_url: presigned.url,
      method: 'PUT',
      headers: { ...presigned.headers },
      expires_at: expiresAt,
    };
  }
}
