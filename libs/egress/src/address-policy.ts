// Which destination addresses outbound requests (image_url fetches, webhook deliveries) may reach.
// Ranges: IANA IPv4/IPv6 special-purpose registries (RFC 6890 and successors).
import { cidrContains, formatIp, parseCidr, parseIp, unmapIpv4, type Cidr, type IpAddress } from './ip-address';

export type AddressCategory =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'broadcast'
  | 'benchmarking'
  | 'documentation'
  | 'unique_local'
  | 'reserved';

interface Range {
  cidr: Cidr;
  category: AddressCategory;
}

/** For IPv6 prefixes that embed an IPv4 address, which bytes hold it. */
interface EmbeddingRange {
  cidr: Cidr;
  ipv4Offset: number;
}

const range = (text: string, category: AddressCategory): Range => ({ cidr: parseCidr(text), category });

// First match wins, so narrower ranges come before the ranges containing them.
const IPV4_RANGES: readonly Range[] = [
  range('0.0.0.0/8', 'unspecified'), // "this network"; Linux connects 0.0.0.0 to the local host
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'cgnat'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link_local'), // includes cloud metadata 169.254.169.254
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', 'reserved'), // 6to4 relay anycast (deprecated)
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

// Prefixes whose traffic ends at the embedded IPv4 address: judged by that address.
const IPV4_EMBEDDING_RANGES: readonly EmbeddingRange[] = [
  { cidr: parseCidr('::ffff:0:0/96'), ipv4Offset: 12 }, // IPv4-mapped
  { cidr: parseCidr('64:ff9b::/96'), ipv4Offset: 12 }, // NAT64 well-known prefix
  { cidr: parseCidr('2002::/16'), ipv4Offset: 2 }, // 6to4
];

const IPV6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::/96', 'reserved'), // IPv4-compatible (deprecated): never a valid destination
  range('::ffff:0:0:0/96', 'reserved'), // IPv4-translated (SIIT)
  range('64:ff9b:1::/48', 'reserved'), // local-use NAT64
  range('100::/64', 'reserved'), // discard-only
  range('2001:2::/48', 'benchmarking'),
  range('2001:db8::/32', 'documentation'),
  range('2001::/23', 'reserved'), // IETF protocol assignments, incl. Teredo
  range('3fff::/20', 'documentation'),
  range('fc00::/7', 'unique_local'),
  range('fe80::/10', 'link_local'),
  range('fec0::/10', 'reserved'), // site-local (deprecated)
  range('ff00::/8', 'multicast'),
];

const IPV6_GLOBAL_UNICAST = parseCidr('2000::/3');

/** The special-purpose category of an address, `public` for ordinary unicast. */
export function classifyAddress(address: IpAddress): AddressCategory {
  if (address.family === 4) {
    return IPV4_RANGES.find((entry) => cidrContains(entry.cidr, address))?.category ?? 'public';
  }
  const embedding = IPV4_EMBEDDING_RANGES.find((entry) => cidrContains(entry.cidr, address));
  if (embedding) {
    const ipv4 = address.bytes.slice(embedding.ipv4Offset, embedding.ipv4Offset + 4);
    return classifyAddress({ family: 4, bytes: ipv4 });
  }
  const special = IPV6_RANGES.find((entry) => cidrContains(entry.cidr, address));
  if (special) return special.category;
  // Everything outside 2000::/3 is unassigned or special today.
  return cidrContains(IPV6_GLOBAL_UNICAST, address) ? 'public' : 'reserved';
}

export interface AddressDecision {
  allowed: boolean;
  /** Canonical form of the address checked. */
  address: string;
  category: AddressCategory;
  /** True when only the allowlist let it through. */
  allowlisted: boolean;
}

/** Parses `EGRESS_ALLOWLIST`: comma/space separated IPs or CIDRs. Throws `InvalidCidrError` on a bad entry. */
export function parseAllowlist(value: string | readonly string[] | undefined): Cidr[] {
  if (value === undefined) return [];
  const entries = typeof value === 'string' ? value.split(/[\s,]+/) : value;
  return entries
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map(parseCidr);
}

/** Allows public addresses and those the allowlist names; refuses every other special-purpose range. */
export class AddressPolicy {
  private readonly allowlist: readonly Cidr[];

  constructor(allowlist: string | readonly string[] = []) {
    this.allowlist = parseAllowlist(allowlist);
  }

  /** `address` is an IP literal in any notation; a string that is no IP is refused as `reserved`. */
  decide(address: string | IpAddress): AddressDecision {
    const parsed = typeof address === 'string' ? parseIp(address) : address;
    if (!parsed) return { allowed: false, address: String(address), category: 'reserved', allowlisted: false };
    const ip = unmapIpv4(parsed);
    const category = classifyAddress(ip);
    const allowlisted =
      category !== 'public' && this.allowlist.some((cidr) => cidrContains(cidr, ip) || cidrContains(cidr, parsed));
    return { allowed: category === 'public' || allowlisted, address: formatIp(ip), category, allowlisted };
  }
}
