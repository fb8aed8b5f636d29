import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrContains,
  formatIp,
  InvalidCidrError,
  parseCidr,
  parseIp,
  parseIpv4,
  parseIpv6,
  unmapIpv4,
} from './ip-address';

const v4 = (text: string) => {
  const bytes = parseIpv4(text);
  return bytes ? Array.from(bytes).join('.') : null;
};

describe('parseIpv4', () => {
  it('reads every WHATWG notation of 127.0.0.1 as 127.0.0.1', () => {
    for (const notation of [
      '127.0.0.1',
      '2130706433',
      '0x7f000001',
      '0X7F000001',
      '0177.0.0.1',
      '127.1',
      '127.0.1',
      '0x7f.1',
      '127.0.0.1.',
      '017700000001',
    ]) {
      assert.equal(v4(notation), '127.0.0.1', notation);
    }
  });

  it('reads mixed-radix parts and fills the last part into the remaining bytes', () => {
    assert.equal(v4('10.0x10.011.1'), '10.16.9.1');
    assert.equal(v4('192.168.257'), '192.168.1.1');
    assert.equal(v4('169.254.43518'), '169.254.169.254');
    assert.equal(v4('0'), '0.0.0.0');
    assert.equal(v4('0x'), '0.0.0.0');
    assert.equal(v4('4294967295'), '255.255.255.255');
  });

  it('rejects names and out-of-range values', () => {
    for (const text of [
      'example.com',
      '1.2.3.4.5',
      '256.0.0.1',
      '4294967296',
      '1.2.3.256',
      '1.2.65536',
      '08.1.1.1',
      '0xg.1.1.1',
      '',
      '1..2',
      '-1.2.3.4',
      '1e3',
    ]) {
      assert.equal(v4(text), null, text);
    }
  });
});

describe('parseIpv6', () => {
  const hex = (text: string) => {
    const bytes = parseIpv6(text);
    return bytes ? Buffer.from(bytes).toString('hex') : null;
  };

  it('expands compressed forms, brackets, zones and embedded IPv4', () => {
    assert.equal(hex('::1'), '00000000000000000000000000000001');
    assert.equal(hex('[::1]'), '00000000000000000000000000000001');
    assert.equal(hex('::'), '00000000000000000000000000000000');
    assert.equal(hex('fe80::1%eth0'), 'fe800000000000000000000000000001');
    assert.equal(hex('::ffff:127.0.0.1'), '00000000000000000000ffff7f000001');
    assert.equal(hex('2001:db8:0:0:1:0:0:1'), '20010db8000000000001000000000001');
    assert.equal(hex('1:2:3:4:5:6:7::'), '00010002000300040005000600070000');
  });

  it('rejects malformed addresses', () => {
    for (const text of [
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      '::ffff:1.2.3',
      '::ffff:256.1.1.1',
      'g::1',
      '1.2.3.4::',
      ':::',
    ]) {
      assert.equal(hex(text), null, text);
    }
  });
});

describe('formatIp and unmapIpv4', () => {
  const canonical = (text: string) => formatIp(parseIp(text)!);

  it('writes RFC 5952 text', () => {
    assert.equal(canonical('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonical('2001:0DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(canonical('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(canonical('::'), '::');
    assert.equal(canonical('0x7f.1'), '127.0.0.1');
  });

  it('turns IPv4-mapped IPv6 into IPv4 and leaves other addresses alone', () => {
    assert.equal(formatIp(unmapIpv4(parseIp('::ffff:7f00:1')!)), '127.0.0.1');
    assert.equal(formatIp(unmapIpv4(parseIp('::7f00:1')!)), '::7f00:1');
    assert.equal(formatIp(unmapIpv4(parseIp('10.1.2.3')!)), '10.1.2.3');
  });
});

describe('CIDR', () => {
  it('matches prefixes on bit boundaries', () => {
    const cgnat = parseCidr('100.64.0.0/10');
    assert.equal(cidrContains(cgnat, parseIp('100.64.0.0')!), true);
    assert.equal(cidrContains(cgnat, parseIp('100.127.255.255')!), true);
    assert.equal(cidrContains(cgnat, parseIp('100.128.0.0')!), false);
    assert.equal(cidrContains(cgnat, parseIp('100.63.255.255')!), false);
    const ula = parseCidr('fc00::/7');
    assert.equal(cidrContains(ula, parseIp('fdff::1')!), true);
    assert.equal(cidrContains(ula, parseIp('fe00::1')!), false);
    assert.equal(cidrContains(parseCidr('0.0.0.0/0'), parseIp('8.8.8.8')!), true);
    assert.equal(cidrContains(parseCidr('0.0.0.0/0'), parseIp('::1')!), false, 'families never match');
  });

  it('reads a bare address as a host route', () => {
    const host = parseCidr(' 127.0.0.2 ');
    assert.equal(host.prefixLength, 32);
    assert.equal(cidrContains(host, parseIp('127.0.0.2')!), true);
    assert.equal(cidrContains(host, parseIp('127.0.0.3')!), false);
    assert.equal(parseCidr('::1').prefixLength, 128);
  });

  it('rejects bad entries with a typed error', () => {
    for (const text of ['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/', '10.0.0.0/-1', '']) {
      assert.throws(() => parseCidr(text), InvalidCidrError, text);
    }
  });
});
