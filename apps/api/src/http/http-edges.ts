import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, ErrorCode } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import { toErrorResponse, type ErrorResponse } from './error-response';

/**
 * Room for the multipart envelope around the image: part headers, boundaries and the text fields (instruction
 * ≤ 2,000 code points, metadata ≤ 4 KB). A declared Content-Length above `MAX_UPLOAD_BYTES` + this is refused
 * before the body is read.
 */
export const MULTIPART_ENVELOPE_BYTES = 1024 * 1024;

/** Deeper JSON than this is refused before parsing: nothing in the contract nests more than a few levels. */
export const JSON_MAX_DEPTH = 64;

const MULTIPART = /^multipart\//i;

/** The one route with a larger JSON body limit (MAX_BATCH_BODY_BYTES): POST /v1/batches. */
export const BATCH_BODY_ROUTE = { method: 'POST', url: '/v1/batches' } as const;

/** Whether a request (method, raw URL with any query) is POST /v1/batches. */
export function isBatchBodyRoute(method: string | undefined, url: string | undefined): boolean {
  return method === BATCH_BODY_ROUTE.method && (url ?? '').split('?')[0].replace(/\/+$/, '') === BATCH_BODY_ROUTE.url;
}

/**
 * The largest body a request of this content type may declare: JSON limit, or upload limit + envelope. POST
 * /v1/batches (`batchBodyBytes` given) has its own JSON limit.
 */
export function bodyLimitFor(
  contentType: string | undefined,
  limits: AppConfig['limits'],
  batchBodyBytes: number | null = null,
): number {
  if (MULTIPART.test(contentType ?? '')) return limits.maxUploadBytes + MULTIPART_ENVELOPE_BYTES;
  return batchBodyBytes ?? limits.maxJsonBodyBytes;
}

/** Depth of the deepest array/object of a JSON text (strings skipped), stopping as soon as it exceeds `max`. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The contract's error body as raw HTTP/1.1, for answers written before Fastify has a request (socket level). */
function rawHttpAnswer(response: ErrorResponse): string {
  const body = JSON.stringify(response.body);
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...response.headers,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  500: 'Internal Server Error',
};

/**
 * Node's HTTP parser rejected the bytes before any request existed (garbage, a header block over the limit, a
 * body that ended before its Content-Length): answer in the contract's shape, then close.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const message =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'the request line or headers are too large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'the request took too long to arrive'
        : 'the request is not valid HTTP/1.1 (framing, headers, or a body shorter than its Content-Length)';
  socket.end(rawHttpAnswer(toErrorResponse(new ApiError(ErrorCode.InvalidRequest, message))));
}

function writeError(res: ServerResponse, response: ErrorResponse, status = response.status): void {
  const body = JSON.stringify(response.body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    ...response.headers,
  });
  res.end(body);
}

/**
 * `Expect: 100-continue`: Node answers `100 Continue` on its own unless the server listens for `checkContinue`,
 * so a client would upload a body we then refuse. Here a declared Content-Length over the limit is answered 413
 * before any body is sent; otherwise the client is told to go on and the request takes the normal path.
 * Any other expectation is refused with 417 (curl then retries without it).
 */
export function installExpectHandling(server: Server, limits: AppConfig['limits'], batchBodyBytes?: number): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    const batch = batchBodyBytes !== undefined && isBatchBodyRoute(req.method, req.url) ? batchBodyBytes : null;
    if (Number.isFinite(declared) && declared > bodyLimitFor(req.headers['content-type'], limits, batch)) {
      writeError(res, toErrorResponse(tooLarge(declared)));
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const refusal = new ApiError(ErrorCode.InvalidRequest, 'only "Expect: 100-continue" is supported', {
      param: 'Expect',
    });
    writeError(res, toErrorResponse(refusal), 417);
  });
}

function tooLarge(declared: number): ApiError {
  return new ApiError(ErrorCode.PayloadTooLarge, `the request body is too large (${declared} bytes declared)`);
}

/**
 * Checks every request makes before its body is read: a body in an encoding we do not decode (any
 * Content-Encoding but `identity`) is 415, and a declared Content-Length over the route's limit is 413 (Fastify
 * checks it for JSON only; multipart limits would otherwise apply part by part while reading).
 */
export function requestEdgeChecks(limits: AppConfig['limits'], batchBodyBytes?: number) {
  return async (request: FastifyRequest): Promise<void> => {
    const batch = batchBodyBytes !== undefined && isBatchBodyRoute(request.method, request.url) ? batchBodyBytes : null;
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new ApiError(ErrorCode.UnsupportedMediaType, 'request bodies must not be compressed (Content-Encoding)', {
        param: 'Content-Encoding',
      });
    }
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > bodyLimitFor(request.headers['content-type'], limits, batch)) {
      throw tooLarge(declared);
    }
  };
}

/** Fastify's JSON parser behind a nesting limit: very deep JSON would otherwise overflow the stack later. */
export function depthLimitedJsonParser(fastify: FastifyInstance) {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void): void => {
    const text = body.toString('utf8');
    if (jsonDepthExceeds(text, JSON_MAX_DEPTH)) {
      done(new ApiError(ErrorCode.InvalidRequest, `the JSON body nests deeper than ${JSON_MAX_DEPTH} levels`));
      return;
    }
    parse(request, text, done);
  };
}
