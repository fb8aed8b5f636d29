import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPolicy, classifyAddress, parseAllowlist, type AddressCategory } from './address-policy';
import { InvalidCidrError, parseIp } from './ip-address';

const category = (text: string): AddressCategory => classifyAddress(parseIp(text)!);

describe('classifyAddress', () => {
  const expectations: Record<string, AddressCategory> = {
    '0.0.0.0': 'unspecified',
    '0.1.2.3': 'unspecified',
    '10.0.0.1': 'private',
    '172.16.0.1': 'private',
    '172.31.255.255': 'private',
    '192.168.1.1': 'private',
    '100.64.0.1': 'cgnat',
    '100.127.255.254': 'cgnat',
    '127.0.0.1': 'loopback',
    '127.255.255.254': 'loopback',
    '169.254.169.254': 'link_local',
    '192.0.0.8': 'reserved',
    '192.0.2.10': 'documentation',
    '198.51.100.7': 'documentation',
    '203.0.113.99': 'documentation',
    '198.18.0.1': 'benchmarking',
    '198.19.255.255': 'benchmarking',
    '224.0.0.251': 'multicast',
    '239.255.255.250': 'multicast',
    '240.0.0.1': 'reserved',
    '255.255.255.255': 'broadcast',
    '8.8.8.8': 'public',
    '172.32.0.1': 'public',
    '100.128.0.1': 'public',
    '198.20.0.1': 'public',
    '::': 'unspecified',
    '::1': 'loopback',
    'fe80::1': 'link_local',
    'febf::1': 'link_local',
    'fc00::1': 'unique_local',
    'fd12:3456::1': 'unique_local',
    'ff02::1': 'multicast',
    'fec0::1': 'reserved',
    '2001:db8::1': 'documentation',
    '3fff::1': 'documentation',
    '2001:2::1': 'benchmarking',
    '2001::1': 'reserved',
    '100::1': 'reserved',
    '::127.0.0.1': 'reserved',
    '::8.8.8.8': 'reserved',
    '::ffff:0:a00:1': 'reserved',
    '4000::1': 'reserved',
    '2606:4700:4700::1111': 'public',
  };

  for (const [address, expected] of Object.entries(expectations)) {
    it(`${address} is ${expected}`, () => assert.equal(category(address), expected));
  }

  it('judges IPv6 forms that carry an IPv4 address by that address', () => {
    assert.equal(category('::ffff:127.0.0.1'), 'loopback');
    assert.equal(category('::ffff:7f00:1'), 'loopback');
    assert.equal(category('::ffff:169.254.169.254'), 'link_local');
    assert.equal(category('::ffff:10.0.0.1'), 'private');
    assert.equal(category('::ffff:8.8.8.8'), 'public');
    assert.equal(category('64:ff9b::10.0.0.1'), 'private');
    assert.equal(category('64:ff9b::8.8.4.4'), 'public');
    assert.equal(category('2002:7f00:1::'), 'loopback');
    assert.equal(category('2002:a9fe:a9fe::1'), 'link_local');
    assert.equal(category('2002:808:808::1'), 'public');
  });
});

describe('AddressPolicy', () => {
  it('allows public addresses and refuses special-purpose ones', () => {
    const policy = new AddressPolicy();
    assert.equal(policy.decide('93.184.216.34').allowed, true);
    for (const address of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '::ffff:127.0.0.1', 'fd00::1']) {
      const decision = policy.decide(address);
      assert.equal(decision.allowed, false, address);
      assert.equal(decision.allowlisted, false);
    }
  });

  it('reads any notation of an address before judging it', () => {
    const policy = new AddressPolicy();
    for (const notation of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1']) {
      const decision = policy.decide(notation);
      assert.equal(decision.allowed, false, notation);
      assert.equal(decision.address, '127.0.0.1');
      assert.equal(decision.category, 'loopback');
    }
  });

  it('refuses text that is no IP address', () => {
    assert.equal(new AddressPolicy().decide('localhost').allowed, false);
  });

  it('lets the allowlist exempt exactly what it names, also in mapped form', () => {
    const policy = new AddressPolicy('127.0.0.2/32, 10.1.0.0/16 fd00::/8');
    assert.deepEqual(policy.decide('127.0.0.2'), {
      allowed: true,
      address: '127.0.0.2',
      category: 'loopback',
      allowlisted: true,
    });
    assert.equal(policy.decide('::ffff:127.0.0.2').allowed, true);
    assert.equal(policy.decide('127.0.0.1').allowed, false);
    assert.equal(policy.decide('10.1.200.3').allowed, true);
    assert.equal(policy.decide('10.2.0.1').allowed, false);
    assert.equal(policy.decide('fd00::5').allowed, true);
    assert.equal(policy.decide('fc00::5').allowed, false);
    assert.equal(policy.decide('8.8.8.8').allowlisted, false, 'public addresses need no exemption');
  });

  it('parses EGRESS_ALLOWLIST strictly', () => {
    assert.deepEqual(parseAllowlist(''), []);
    assert.deepEqual(parseAllowlist(undefined), []);
    assert.equal(parseAllowlist(' 127.0.0.2/32 ,::1').length, 2);
    assert.throws(() => parseAllowlist('127.0.0.2/32,not-an-ip'), InvalidCidrError);
    assert.throws(() => new AddressPolicy(['10.0.0.0/40']), InvalidCidrError);
  });
});
