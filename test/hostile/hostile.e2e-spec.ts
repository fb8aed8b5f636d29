// The hostile-input corpus (test/hostile/hostile-cases.ts) against the whole running service, inside a fresh
// network namespace: every case answers a 4xx in the contract's error shape or is accepted and edited; nothing
// answers 5xx, hangs, crashes the process, or connects to a private address (canaries on port 80 of each).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runNodeInNetns } from '../support/netns';
import type { CaseResult, HostileReport } from './hostile.probe';

/** One line per group: cases, refused with a 4xx, accepted and edited, failed. */
export function summarise(results: readonly CaseResult[]): string[] {
  const groups = new Map<
    string,
    { total: number; refused: number; accepted: number; answered: number; failed: number }
  >();
  for (const result of results) {
    const row = groups.get(result.group) ?? { total: 0, refused: 0, accepted: 0, answered: 0, failed: 0 };
    row.total++;
    row[result.outcome]++;
    if (result.problem) row.failed++;
    groups.set(result.group, row);
  }
  const lines = [...groups].map(
    ([group, r]) =>
      `${group.padEnd(18)} ${String(r.total).padStart(4)} cases: ${r.refused} refused (4xx), ${r.accepted} accepted and edited, ${r.answered} other 2xx, ${r.failed} failed`,
  );
  const failed = results.filter((r) => r.problem).length;
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 3);
  lines.push(`slowest answers: ${slowest.map((r) => `${r.group} / ${r.name} ${r.ms} ms`).join('; ')}`);
  lines.push(`hostile corpus: ${results.length} cases, ${results.length - failed} as required, ${failed} failed`);
  return lines;
}

describe('hostile input against the running service, in a network namespace (e2e)', () => {
  let report: HostileReport;

  before(async () => {
    report = await runNodeInNetns<HostileReport>(join(__dirname, 'hostile.probe.js'), [], { timeoutMs: 540_000 });
    for (const line of summarise(report.results)) console.log(line);
  });

  it('ran in a namespace holding only lo, with the private addresses on it for the canaries', () => {
    assert.deepEqual(report.interfaces, ['lo']);
    for (const address of ['10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1']) {
      assert.ok(report.privateAddresses.includes(address), `${address} on lo`);
    }
  });

  it('has at least 200 cases across every group', () => {
    assert.ok(report.results.length >= 200, `${report.results.length} cases`);
    const groups = new Set(report.results.map((r) => r.group));
    for (const group of [
      'images',
      'json bodies',
      'json fields',
      'multipart framing',
      'http framing',
      'ssrf image_url',
      'ssrf webhook_url',
      'ssrf redirects',
      'ssrf schemes',
      'tenants',
    ]) {
      assert.ok(groups.has(group), `group ${group}`);
    }
  });

  it('answers every case with a 4xx in the error shape, or accepts and edits it', () => {
    const failures = report.results.filter((r) => r.problem).map((r) => `${r.group} / ${r.name}: ${r.problem}`);
    assert.deepEqual(failures, []);
  });

  it('edited every accepted input to succeeded (there are some: the corpus does not only refuse)', () => {
    const accepted = report.results.filter((r) => r.outcome === 'accepted');
    assert.ok(accepted.length >= 5, `${accepted.length} accepted`);
    for (const result of accepted) assert.equal(result.editStatus, 'succeeded', result.name);
  });

  it('resolved private names through the namespace hosts file, and refused them', () => {
    assert.ok(report.privateNamesResolved, 'a private mount namespace for /etc/hosts could not be made');
    assert.ok(report.results.filter((r) => r.group === 'ssrf names').length >= 10);
  });

  it('nothing connected to any private address', () => {
    assert.deepEqual(report.canaryHits, []);
  });

  it('the service survived every case and stopped cleanly', () => {
    assert.equal(report.serviceAliveAfter, true);
    assert.deepEqual(report.serviceExit, { code: 0, signal: null });
  });
});
