import '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, coerceMultipartFields, ErrorCode } from '@step1x/contracts';
import { JSON_MAX_DEPTH, jsonDepthExceeds } from '../http/http-edges';
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

/** RFC 2046 §5.1.1: 1–70 characters from a small set, not ending in a space. */
export const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** The boundary parameter of a multipart Content-Type, unquoted; null when absent. */
export function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : null;
}

/**
 * Multipart with its framing checked: a missing or malformed boundary is refused before reading, and anything
 * the parser trips over while reading (mismatched or unterminated boundaries, bare-LF line ends, a truncated or
 * garbage body) is a 400, not an unexpected error. The parser's own limits (file size, part counts) keep their
 * status (413).
 */
async function readMultipart(request: FastifyRequest): Promise<EditRequestBody> {
  const boundary = boundaryOf(request.headers['content-type'] ?? '');
  if (boundary === null || !BOUNDARY.test(boundary)) {
    throw new ApiError(
      ErrorCode.InvalidRequest,
      'multipart/form-data needs a boundary parameter of 1 to 70 characters (RFC 2046)',
    );
  }
  try {
    return await readParts(request);
  } catch (error) {
    if (error instanceof ApiError || typeof (error as { statusCode?: unknown }).statusCode === 'number') throw error;
    throw new ApiError(ErrorCode.InvalidRequest, `the multipart body is malformed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function readParts(request: FastifyRequest): Promise<EditRequestBody> {
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
    const value = String(part.value);
    if (part.fieldname === 'metadata' && jsonDepthExceeds(value, JSON_MAX_DEPTH)) {
      throw new ApiError(ErrorCode.InvalidRequest, `metadata nests deeper than ${JSON_MAX_DEPTH} levels`, {
        param: 'metadata',
      });
    }
    (fields[part.fieldname] ??= []).push(value);
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
