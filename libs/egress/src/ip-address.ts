// IP address and CIDR parsing for the egress guard. IPv4 follows the WHATWG URL host parser, so every notation a
// URL or resolver may hand us is recognised as the address it denotes: `2130706433`, `0x7f000001`, `0177.0.0.1`,
// `127.1` and `127.0.0.1.` all mean 127.0.0.1.

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefixLength: number;
}

function parseIpv4Part(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
  }
  if (digits === '') return 0; // "0x" alone and "0" are zero in the WHATWG parser
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return null;
  const value = Number.parseInt(digits, radix);
  return Number.isSafeInteger(value) ? value : null;
}

/** Parses any IPv4 notation (1–4 parts, each decimal, 0x-hex or 0-octal); null when `text` is not IPv4. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4 || parts.some((part) => part === '')) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const value = parseIpv4Part(part);
    if (value === null) return null;
    numbers.push(value);
  }
  const last = numbers.pop() as number;
  if (numbers.some((value) => value > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let value = last;
  numbers.forEach((part, index) => (value += part * 256 ** (3 - index)));
  return new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

function parseIpv6Groups(text: string, allowEmbeddedIpv4: boolean): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  const pieces = text.split(':');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (allowEmbeddedIpv4 && i === pieces.length - 1 && piece.includes('.')) {
      // An embedded dotted quad is plain decimal (RFC 4291 2.2), unlike a URL host.
      const octets = piece.split('.').map(Number);
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(piece) || octets.some((octet) => octet > 255)) return null;
      groups.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
    } else {
      if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
      groups.push(Number.parseInt(piece, 16));
    }
  }
  return groups;
}

/** Parses an IPv6 address (brackets and a `%zone` suffix are ignored); null when `text` is not IPv6. */
export function parseIpv6(text: string): Uint8Array | null {
  let body = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = body.indexOf('%');
  if (zone >= 0) body = body.slice(0, zone);
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const head = parseIpv6Groups(halves[0], !compressed);
  const tail = compressed ? parseIpv6Groups(halves[1], true) : [];
  if (!head || !tail) return null;
  const explicit = head.length + tail.length;
  if (compressed ? explicit > 7 : explicit !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 255;
  });
  return bytes;
}

/** Parses an IPv4 (any notation) or IPv6 literal; null for anything else, e.g. a host name. */
export function parseIp(text: string): IpAddress | null {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes ? { family: 6, bytes } : null;
  }
  const bytes = parseIpv4(text);
  return bytes ? { family: 4, bytes } : null;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else the address itself. */
export function unmapIpv4(address: IpAddress): IpAddress {
  if (address.family !== 6) return address;
  const prefixIsZero = address.bytes.subarray(0, 10).every((byte) => byte === 0);
  const mapped = prefixIsZero && address.bytes[10] === 0xff && address.bytes[11] === 0xff;
  return mapped ? { family: 4, bytes: address.bytes.slice(12) } : address;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) return Array.from(address.bytes).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (address.bytes[i * 2] << 8) | address.bytes[i * 2 + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end === start ? start + 1 : end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.lastIndexOf('/');
  const addressText = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  const address = parseIp(addressText);
  if (!address) throw new InvalidCidrError(text, 'not an IP address');
  const maxLength = address.family === 4 ? 32 : 128;
  const prefixText = slash >= 0 ? trimmed.slice(slash + 1) : String(maxLength);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxLength) {
    throw new InvalidCidrError(text, `prefix length must be 0..${maxLength}`);
  }
  return { family: address.family, bytes: address.bytes, prefixLength: Number(prefixText) };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const fullBytes = Math.floor(cidr.prefixLength / 8);
  for (let i = 0; i < fullBytes; i++) if (cidr.bytes[i] !== address.bytes[i]) return false;
  const remainingBits = cidr.prefixLength % 8;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return (cidr.bytes[fullBytes] & mask) === (address.bytes[fullBytes] & mask);
}

export class InvalidCidrError extends Error {
  readonly code = 'invalid_config';
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid IP/CIDR "${input}": ${reason}`);
    this.name = 'InvalidCidrError';
  }
}
