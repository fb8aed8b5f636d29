// A deliberately dumb HTTP/1.1 client: it sends exactly the bytes it is given (so framing can be wrong on purpose)
// and reads whatever comes back until the server closes, the answer is complete, or a timeout.
import { connect } from 'node:net';

export interface RawRequest {
  /** The request as bytes on the wire: request line, headers, blank line, body (all up to the caller). */
  bytes: Buffer;
  /** Half-close after writing (the client says "no more bytes"), e.g. for a body shorter than its length. */
  halfClose?: boolean;
  /** Send the head first and wait for `100 Continue` or a final answer before sending the rest. */
  expectContinue?: { headBytes: number };
}

export interface RawResponse {
  /** The final status (an interim 100 is reported in `interim`), or null when nothing parsable came back. */
  status: number | null;
  /** Interim status codes seen before the final one (e.g. [100]). */
  interim: number[];
  headers: Record<string, string>;
  body: Buffer;
  /** True when the timeout ended the wait. */
  timedOut: boolean;
  /** Socket error code, e.g. ECONNRESET, when the connection broke. */
  error: string | null;
}

interface ParsedHead {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

function parseHead(buffer: Buffer, from: number): ParsedHead | null {
  const end = buffer.indexOf('\r\n\r\n', from);
  if (end < 0) return null;
  const lines = buffer.subarray(from, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!match) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, bodyStart: end + 4 };
}

/** Interim answers first (1xx), then the final one; complete once Content-Length bytes of body arrived. */
function parseResponse(buffer: Buffer): { interim: number[]; final: ParsedHead | null; complete: boolean } {
  const interim: number[] = [];
  let offset = 0;
  for (;;) {
    const head = parseHead(buffer, offset);
    if (!head) return { interim, final: null, complete: false };
    if (head.status >= 100 && head.status < 200) {
      interim.push(head.status);
      offset = head.bodyStart;
      continue;
    }
    const length = Number(head.headers['content-length']);
    const complete = Number.isFinite(length) && buffer.length - head.bodyStart >= length;
    return { interim, final: head, complete };
  }
}

export function sendRaw(
  port: number,
  request: RawRequest,
  timeoutMs = 10_000,
  host = '127.0.0.1',
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let socketError: string | null = null;
    let settled = false;
    let sentRest = request.expectContinue === undefined;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const buffer = Buffer.concat(chunks);
      const parsed = parseResponse(buffer);
      const final = parsed.final;
      resolve({
        status: final?.status ?? null,
        interim: parsed.interim,
        headers: final?.headers ?? {},
        body: final ? buffer.subarray(final.bodyStart) : buffer,
        timedOut,
        error: socketError,
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    let answered = false;
    /**
     * Writes in 64 KB pieces and stops as soon as a final answer arrived, as curl does: a server that refuses a
     * large body early (413) closes the connection, and writing on would only end in EPIPE.
     */
    const writeFrom = (bytes: Buffer, offset: number, then: () => void) => {
      if (answered || socket.destroyed) return;
      if (offset >= bytes.length) return then();
      const end = Math.min(bytes.length, offset + 65_536);
      const more = socket.write(bytes.subarray(offset, end));
      // After the first piece, a moment for an early answer (a 413 on the declared length) to arrive before more
      // is sent: the server closes after refusing, and data sent into a closed socket resets the connection,
      // which can take the unread answer with it (no lingering close in Node's HTTP server).
      const pause = offset === 0 && bytes.length > 65_536 ? 200 : 0;
      const next = () => setTimeout(() => writeFrom(bytes, end, then), pause);
      if (more) next();
      else socket.once('drain', next);
    };
    const endIfAsked = () => {
      if (request.halfClose) socket.end();
    };
    const sendRest = () => {
      if (sentRest) return;
      sentRest = true;
      writeFrom(request.bytes, request.expectContinue?.headBytes ?? 0, endIfAsked);
    };
    socket.on('connect', () => {
      if (request.expectContinue) {
        socket.write(request.bytes.subarray(0, request.expectContinue.headBytes));
        return;
      }
      writeFrom(request.bytes, 0, endIfAsked);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed.final) answered = true;
      if (parsed.final && parsed.complete) finish(false);
      else if (!parsed.final && parsed.interim.includes(100)) sendRest();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError = error.code ?? error.message;
      finish(false);
    });
    socket.on('close', () => finish(false));
  });
}

export interface HttpMessageParts {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Content-Length to declare; `null` sends none; default: the body's length. */
  contentLength?: number | null;
}

/** A well-formed request around the given parts (`Connection: close`, Host), as bytes. */
export function httpMessage(parts: HttpMessageParts): Buffer {
  const body = typeof parts.body === 'string' ? Buffer.from(parts.body, 'utf8') : (parts.body ?? Buffer.alloc(0));
  const headers: Record<string, string | number> = { host: 'hostile.test', connection: 'close', ...parts.headers };
  const length = parts.contentLength === undefined ? body.length : parts.contentLength;
  if (length !== null && parts.method !== 'GET') headers['content-length'] = length;
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  return Buffer.concat([
    Buffer.from(`${parts.method ?? 'POST'} ${parts.path} HTTP/1.1\r\n${head}\r\n\r\n`, 'latin1'),
    body,
  ]);
}

/** A multipart body with the given parts, framed correctly with `boundary` (CRLF line ends). */
export function multipartBody(
  boundary: string,
  parts: ReadonlyArray<{ name: string; value: string | Buffer; filename?: string; type?: string }>,
): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const type = part.type ? `\r\nContent-Type: ${part.type}` : '';
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`, 'latin1'));
    pieces.push(typeof part.value === 'string' ? Buffer.from(part.value, 'utf8') : part.value);
    pieces.push(Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}
