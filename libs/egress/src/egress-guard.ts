// The SSRF guard for every outbound request the service makes on a user's behalf (image_url fetches and webhook
// deliveries; CONTRACT.md "Egress guard"). The only module that opens outbound HTTP connections.
import * as http from 'node:http';
import * as https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { AddressPolicy } from './address-policy';
import {
  EgressError,
  PayloadTooLargeError,
  redactUrl,
  UrlFetchFailedError,
  UrlNotAllowedError,
  type UrlFetchFailedReason,
} from './egress-errors';
import { formatIp, parseIp, unmapIpv4 } from './ip-address';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses; injectable so tests never touch DNS. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) => {
  const results = await dnsLookup(hostname, { all: true, verbatim: true });
  return results.map((result) => ({ address: result.address, family: result.family === 6 ? 6 : 4 }));
};

export interface EgressGuardOptions {
  /** IPs/CIDRs exempt from the refusal of special-purpose ranges (EGRESS_ALLOWLIST). @defaultValue [] */
  allowlist?: string | readonly string[];
  /** @defaultValue systemResolver (getaddrinfo) */
  resolver?: HostResolver;
}

/** A URL whose host was resolved and checked; connections go to `address` and nowhere else. */
export interface CheckedTarget {
  url: URL;
  /** Host without IPv6 brackets. */
  hostname: string;
  /** Canonical text of the checked address the connection is pinned to. */
  address: string;
  family: 4 | 6;
  /** The host was an IP literal (no DNS). */
  literal: boolean;
}

export interface GuardedRequestOptions {
  /** @defaultValue 'GET' */
  method?: string;
  /** @defaultValue {} */
  headers?: Readonly<Record<string, string>>;
  /** @defaultValue none */
  body?: string | Buffer;
  /** Deadline for the whole exchange: DNS, every hop and the body. */
  timeoutMs: number;
  /** Largest response body accepted. */
  maxBytes: number;
  /** Past `maxBytes`: throw `PayloadTooLargeError`, or keep the first `maxBytes` and stop reading. @defaultValue 'throw' */
  oversize?: 'throw' | 'truncate';
  /** Follow 301/302/303/307/308, re-checking each hop; when false a 3xx is returned as is. @defaultValue false */
  followRedirects?: boolean;
  /** @defaultValue 3 */
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body was cut at `maxBytes` (oversize: 'truncate'). */
  truncated: boolean;
  /** URL of the hop that answered. */
  url: string;
  /** Address that answered. */
  address: string;
  redirects: number;
}

interface HopRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  deadline: number;
  maxBytes: number;
  oversize: 'throw' | 'truncate';
  returnRedirectsUnread: boolean;
  signal?: AbortSignal;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

export class EgressGuard {
  private readonly policy: AddressPolicy;
  private readonly resolver: HostResolver;

  constructor(options: EgressGuardOptions = {}) {
    this.policy = new AddressPolicy(options.allowlist ?? []);
    this.resolver = options.resolver ?? systemResolver;
  }

  /**
   * Parses the URL, resolves its host and checks every address. Throws `UrlNotAllowedError` (bad URL, scheme or
   * address) or `UrlFetchFailedError('dns')`. A host resolving to several addresses is refused if any is.
   */
  async checkUrl(input: string | URL): Promise<CheckedTarget> {
    const url = parseHttpUrl(input);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const literal = parseIp(hostname);
    if (literal) return this.checkedTarget(url, hostname, [formatIp(literal)], true);

    let resolved: readonly ResolvedAddress[];
    try {
      resolved = await this.resolver(hostname);
    } catch (error) {
      throw new UrlFetchFailedError('dns', url.href, `cannot resolve ${hostname}`, { cause: error });
    }
    if (resolved.length === 0) throw new UrlFetchFailedError('dns', url.href, `${hostname} has no addresses`);
    return this.checkedTarget(
      url,
      hostname,
      resolved.map((entry) => entry.address),
      false,
    );
  }

  /** Sends one request through the guard; see `GuardedRequestOptions`. */
  async fetch(input: string | URL, options: GuardedRequestOptions): Promise<GuardedResponse> {
    const deadline = Date.now() + options.timeoutMs;
    const follow = options.followRedirects ?? false;
    const maxRedirects = follow ? (options.maxRedirects ?? 3) : 0;
    let url = typeof input === 'string' ? input : input.href;
    let method = (options.method ?? 'GET').toUpperCase();
    let body = options.body;
    const headers: Record<string, string> = lowerCaseKeys(options.headers ?? {});

    for (let redirects = 0; ; redirects++) {
      const target = await withDeadline(this.checkUrl(url), deadline, url);
      const hop = { method, headers, body, deadline, maxBytes: options.maxBytes, signal: options.signal };
      const response = await this.sendHop(target, {
        ...hop,
        oversize: options.oversize ?? 'throw',
        returnRedirectsUnread: follow,
      });
      const location = response.headers.location;
      if (!follow || !REDIRECT_STATUSES.has(response.status) || !location) return { ...response, redirects };
      if (redirects >= maxRedirects) {
        throw new UrlFetchFailedError('too_many_redirects', url, `more than ${maxRedirects} redirects`);
      }
      const next = resolveLocation(location, target.url);
      if (response.status === 303 || (response.status <= 302 && method === 'POST')) {
        method = 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      if (next.origin !== target.url.origin) for (const name of ORIGIN_BOUND_HEADERS) delete headers[name];
      url = next.href;
    }
  }

  private checkedTarget(url: URL, hostname: string, addresses: readonly string[], literal: boolean): CheckedTarget {
    const decisions = addresses.map((address) => this.policy.decide(address));
    const refused = decisions.find((decision) => !decision.allowed);
    if (refused) {
      const via = literal ? '' : `${hostname} resolves to `;
      const message = `${via}${refused.address}, which is not allowed (${refused.category})`;
      throw new UrlNotAllowedError('address', url.href, message, refused.address);
    }
    const pinned = decisions[0].address;
    return { url, hostname, address: pinned, family: pinned.includes(':') ? 6 : 4, literal };
  }

  private sendHop(target: CheckedTarget, hop: HopRequest): Promise<HopResponse> {
    const href = target.url.href;
    if (hop.signal?.aborted) return Promise.reject(new UrlFetchFailedError('aborted', href, 'request aborted'));
    const transport = target.url.protocol === 'https:' ? https : http;
    const headers = { ...hop.headers };
    if (hop.body !== undefined) headers['content-length'] = String(Buffer.byteLength(hop.body));
    const request = transport.request({
      protocol: target.url.protocol,
      hostname: target.hostname,
      port: target.url.port || undefined,
      path: `${target.url.pathname}${target.url.search}`,
      method: hop.method,
      headers,
      // Credentials in the URL become Basic auth (Node drops them otherwise); they never cross origins.
      auth: target.url.username
        ? `${decodeURIComponent(target.url.username)}:${decodeURIComponent(target.url.password)}`
        : undefined,
      // The pin: whatever DNS says now, the socket connects to the address that was checked.
      lookup: pinnedLookup(target),
      // A fresh connection per hop, so no pooled socket to another address is reused.
      agent: false,
      servername: target.literal ? undefined : target.hostname,
    });

    return new Promise<HopResponse>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: HopResponse | EgressError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        hop.signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof EgressError) {
          request.destroy();
          reject(outcome);
        } else {
          resolve(outcome);
        }
      };
      const timer = setTimeout(
        () => settle(new UrlFetchFailedError('timeout', href, `no complete answer from ${redactUrl(href)} in time`)),
        Math.max(0, hop.deadline - Date.now()),
      );
      const onAbort = () => settle(new UrlFetchFailedError('aborted', href, 'request aborted'));
      hop.signal?.addEventListener('abort', onAbort, { once: true });

      request.on('socket', (socket) => {
        socket.once('connect', () => {
          if (!sameAddress(socket.remoteAddress, target.address)) {
            settle(new UrlNotAllowedError('address', href, 'connected to an unchecked address', socket.remoteAddress));
          }
        });
      });
      request.on('error', (error) => settle(toFetchError(error, href)));
      request.on('response', (response) => readResponse(response, { href, address: target.address }, hop, settle));
      request.end(hop.body);
    });
  }
}

type HopResponse = Omit<GuardedResponse, 'redirects'>;

/** Reads a response body within `hop.maxBytes`, or returns a redirect unread when the caller follows it. */
function readResponse(
  response: http.IncomingMessage,
  origin: { href: string; address: string },
  hop: HopRequest,
  settle: (outcome: HopResponse | EgressError) => void,
): void {
  const status = response.statusCode ?? 0;
  const base = { status, headers: response.headers, url: origin.href, address: origin.address };
  if (hop.returnRedirectsUnread && REDIRECT_STATUSES.has(status) && response.headers.location) {
    response.destroy();
    settle({ ...base, body: Buffer.alloc(0), truncated: false });
    return;
  }
  const declared = Number(response.headers['content-length']);
  if (hop.oversize === 'throw' && Number.isFinite(declared) && declared > hop.maxBytes) {
    settle(new PayloadTooLargeError(origin.href, hop.maxBytes));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  response.on('data', (chunk: Buffer) => {
    if (received + chunk.length <= hop.maxBytes) {
      chunks.push(chunk);
      received += chunk.length;
    } else if (hop.oversize === 'throw') {
      settle(new PayloadTooLargeError(origin.href, hop.maxBytes));
    } else {
      chunks.push(chunk.subarray(0, hop.maxBytes - received));
      response.destroy();
      settle({ ...base, body: Buffer.concat(chunks), truncated: true });
    }
  });
  response.on('end', () => settle({ ...base, body: Buffer.concat(chunks), truncated: false }));
  response.on('error', (error) => settle(toFetchError(error, origin.href)));
  response.on('aborted', () => settle(new UrlFetchFailedError('connect', origin.href, 'connection closed mid-body')));
}

/** `guard.fetch(url, options)`, for callers that keep the guard in the options. */
export function fetchGuarded(
  url: string | URL,
  options: GuardedRequestOptions & { guard: EgressGuard },
): Promise<GuardedResponse> {
  return options.guard.fetch(url, options);
}

function parseHttpUrl(input: string | URL): URL {
  let url: URL;
  try {
    // WHATWG parsing turns decimal, hex, octal and short IPv4 hosts into dotted quads.
    url = new URL(typeof input === 'string' ? input : input.href);
  } catch {
    throw new UrlNotAllowedError('invalid_url', String(input), 'not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlNotAllowedError('scheme', url.href, `scheme ${url.protocol} is not allowed; use http or https`);
  }
  if (url.hostname === '') throw new UrlNotAllowedError('invalid_url', url.href, 'the URL has no host');
  return url;
}

function pinnedLookup(target: CheckedTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

function sameAddress(remote: string | undefined, expected: string): boolean {
  const parsed = remote ? parseIp(remote) : null;
  return parsed !== null && formatIp(unmapIpv4(parsed)) === expected;
}

function resolveLocation(location: string, base: URL): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new UrlFetchFailedError('protocol', base.href, 'redirect with an invalid Location');
  }
}

function toFetchError(error: unknown, url: string): EgressError {
  if (error instanceof EgressError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const reason: UrlFetchFailedReason = code.startsWith('HPE_') ? 'protocol' : 'connect';
  const detail = code || (error instanceof Error ? error.message : String(error));
  return new UrlFetchFailedError(reason, url, `request to ${redactUrl(url)} failed: ${detail}`, { cause: error });
}

async function withDeadline<T>(promise: Promise<T>, deadline: number, url: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UrlFetchFailedError('timeout', url, 'timed out resolving the host')),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
