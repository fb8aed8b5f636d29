// The egress guard as the running service applies it (CONTRACT.md "Egress guard"). The whole service runs in a
// child process inside a fresh network namespace holding only `lo` (service-egress.probe.ts), so an image_url or
// webhook_url that slips past the guard still reaches nothing outside.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runNodeInNetns } from '../support/netns';
import type { EgressAnswer, EgressReport } from './service-egress.probe';

describe('service: egress guard in a network namespace (e2e)', () => {
  let report: EgressReport;

  before(async () => {
    report = await runNodeInNetns<EgressReport>(join(__dirname, 'service-egress.probe.js'), [], { timeoutMs: 150_000 });
  });

  const refused = (answer: EgressAnswer | undefined, name: string, param: string, code = 'url_not_allowed') => {
    assert.ok(answer, `no answer for ${name}`);
    assert.deepEqual(
      { status: answer.status, code: answer.code, param: answer.param },
      { status: 422, code, param },
      name,
    );
  };

  it('runs where only the loopback interface exists, and the service works there', () => {
    assert.deepEqual(report.interfaces, ['lo']);
    assert.equal(report.control.status, 200);
    assert.equal(report.control.editStatus, 'succeeded');
    assert.ok(report.control.webhookTypes.includes('edit.completed'), `webhooks: ${report.control.webhookTypes}`);
  });

  for (const name of [
    'loopback 127.0.0.1',
    'loopback [::1]',
    'name localhost',
    'metadata 169.254.169.254',
    'private 10.0.0.1',
    'private 192.168.1.1',
    'cgnat 100.64.0.1',
    'decimal 2130706433',
    'hex 0x7f000001',
    'octal 0177.0.0.1',
    'short 127.1',
    'mapped [::ffff:127.0.0.1]',
  ]) {
    it(`refuses image_url at ${name} with 422 url_not_allowed`, () =>
      refused(report.imageUrls[name], name, 'image_url'));
  }

  it('re-checks redirects: a hop from 127.0.0.2 to 127.0.0.1 (any notation) or to metadata is refused', () => {
    for (const name of [
      'redirect 127.0.0.2 -> 127.0.0.1',
      'redirect 127.0.0.2 -> 2130706433',
      'redirect 127.0.0.2 -> metadata',
    ]) {
      refused(report.imageUrls[name], name, 'image_url');
    }
    for (const path of ['/to-loopback', '/to-decimal', '/to-metadata']) assert.ok(report.receiverPaths.includes(path));
  });

  it('lets a public address through the policy, where the namespace gives it nowhere to go', () => {
    refused(report.imageUrls['public 93.184.215.14'], 'public', 'image_url', 'url_fetch_failed');
  });

  for (const name of ['loopback 127.0.0.1', 'metadata 169.254.169.254', 'private 10.0.0.1', 'decimal 2130706433']) {
    it(`refuses webhook_url at ${name} before accepting the edit`, () =>
      refused(report.webhookUrls[name], name, 'webhook_url'));
  }

  it('nothing reached 127.0.0.1 or ::1', () => {
    assert.deepEqual(report.victimHits, []);
  });

  it('stopped cleanly afterwards (SIGTERM, exit 0)', () => {
    assert.deepEqual(report.serviceExit, { code: 0, signal: null });
  });
});
