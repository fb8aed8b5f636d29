import '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, coerceMultipartFields, ErrorCode } from '@step1x/contracts';
import type { UploadedImage } from './image-intake.service';

export interface EditRequestBody {
  /** The fields as JSON would give them (multipart strings already coerced). */
  body: unknown;
  upload: UploadedImage | null;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads POST /v1/edits in either of its two forms: multipart (`image` file + fields) or JSON. Anything else is a
 * 415. Size limits are enforced while reading (multipart by @fastify/multipart, JSON by Fastify's bodyLimit).
 */
export async function readEditRequestBody(request: FastifyRequest): Promise<EditRequestBody> {
  if (request.isMultipart()) return readMultipart(request);
  if (JSON_TYPE.test(request.headers['content-type'] ?? '')) return { body: request.body, upload: null };
  throw new ApiError(ErrorCode.UnsupportedMediaType, 'send application/json or multipart/form-data');
}

async function readMultipart(request: FastifyRequest): Promise<EditRequestBody> {
  const fields: Record<string, string[]> = {};
  let upload: UploadedImage | null = null;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image') {
        part.file.resume();
        throw new ApiError(
          ErrorCode.UnknownField,
          `unknown file field "${part.fieldname}"; the image goes in "image"`,
          {
            param: part.fieldname,
          },
        );
      }
      if (upload) throw new ApiError(ErrorCode.InvalidRequest, 'send one image file only', { param: 'image' });
      upload = { bytes: await part.toBuffer(), contentType: part.mimetype || null };
      continue;
    }
    if (part.valueTruncated) {
      throw new ApiError(ErrorCode.PayloadTooLarge, `field "${part.fieldname}" is too long`, { param: part.fieldname });
    }
    (fields[part.fieldname] ??= []).push(String(part.value));
  }
  return { body: coerceMultipartFields(fields), upload };
}

/** Aborted when the client hangs up before the answer is sent (ends a `Prefer: wait` early). */
export function abortSignalFor(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  return controller.signal;
}
