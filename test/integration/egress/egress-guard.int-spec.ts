// The egress guard on real sockets. Everything runs in a child process inside a fresh network namespace (see
// egress-probe.ts), so a guard that lets a private or link-local address through still reaches nothing.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runNodeInNetns } from '../../support/netns';
import type { ProbeReport, ProbeResult } from './egress-probe';

describe('EgressGuard in a network namespace', () => {
  let report: ProbeReport;

  before(async () => {
    report = await runNodeInNetns<ProbeReport>(join(__dirname, 'egress-probe.js'), [], { timeoutMs: 60_000 });
  });

  const refused = (name: string, code = 'url_not_allowed') => {
    const result: ProbeResult | undefined = report.results[name];
    assert.ok(result, `no result for ${name}`);
    assert.equal(result.ok, false, `${name} was allowed`);
    assert.equal(result.code, code, `${name}: ${result.message}`);
    return result;
  };

  it('runs where only the loopback interface exists, and the victim is reachable without the guard', () => {
    assert.deepEqual(report.interfaces, ['lo']);
    assert.equal(report.controlReachedVictim, true);
  });

  for (const name of [
    'loopback 127.0.0.1',
    'loopback [::1]',
    'metadata 169.254.169.254',
    'private 10.0.0.1',
    'cgnat 100.64.0.1',
    'decimal 2130706433',
    'hex 0x7f000001',
    'octal 0177.0.0.1',
    'short 127.1',
    'mapped [::ffff:127.0.0.1]',
    'name localhost',
  ]) {
    it(`refuses ${name}`, () => {
      assert.equal(refused(name).reason, 'address');
    });
  }

  it('re-checks redirects and refuses a hop from 127.0.0.2 to 127.0.0.1, in any notation, or to metadata', () => {
    refused('redirect 127.0.0.2 -> 127.0.0.1');
    refused('redirect 127.0.0.2 -> 2130706433');
    refused('redirect 127.0.0.2 -> metadata');
    for (const path of ['/to-loopback', '/to-decimal', '/to-metadata']) {
      assert.ok(report.receiverPaths.includes(path), `the first hop ${path} reached the allowed receiver`);
    }
  });

  it('nothing reached 127.0.0.1 or ::1 through the guard', () => {
    assert.deepEqual(report.victimHits, []);
  });

  it('allows the allowlisted receiver, including a redirect that stays there', () => {
    assert.deepEqual(report.results['allowed 127.0.0.2'], { ok: true, status: 200 });
    assert.deepEqual(report.results['allowed redirect within 127.0.0.2'], { ok: true, status: 200 });
    assert.ok(report.receiverPaths.includes('/hop') && report.receiverPaths.includes('/ok'));
  });

  it('returns a redirect unread when following is off', () => {
    assert.deepEqual(report.results['redirect not followed when disabled'], { ok: true, status: 302 });
  });

  it('connects to the checked address, not to what the system resolver would say', () => {
    assert.deepEqual(report.results['pinned name rebind.test'], { ok: true, status: 200 });
    assert.ok(report.receiverPaths.includes('/pinned'));
  });

  it('sends credentials from the URL as Basic auth', () => {
    assert.deepEqual(report.results['credentials in URL'], { ok: true, status: 200 });
    assert.equal(report.authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });

  it('caps redirects, body size and time with typed errors', () => {
    assert.equal(refused('redirect loop', 'url_fetch_failed').reason, 'too_many_redirects');
    refused('body over the cap', 'payload_too_large');
    assert.equal(refused('slow answer', 'url_fetch_failed').reason, 'timeout');
  });
});
