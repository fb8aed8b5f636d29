import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FLEET_PROFILES, formatFleetReport, runFleet } from './fleet-run';

/** The fleet test's small profile (`npm run fleet` runs the full one, ≥ 300 edits). */
describe('fleet: autoscaled worker pool behind two APIs (e2e, real processes)', () => {
  it('scales out on a burst and back in, loses nothing and writes no output twice, through a SIGKILL and SIGTERMs', async () => {
    const report = await runFleet(FLEET_PROFILES.ci, (line) => console.log(`[fleet] ${line}`));
    console.log(formatFleetReport(report));
    assert.equal(report.lost, 0, 'every accepted edit reaches a terminal status');
    assert.deepEqual(report.terminal, { succeeded: report.accepted });
    assert.equal(report.outputsWrittenTwice, 0);
    assert.equal(report.outputWrites, report.accepted);
    assert.notEqual(report.burstToFirstScaleUpS, null, 'the burst scaled the pool up');
    assert.ok(report.peakWorkers >= 2, `peak ${report.peakWorkers} workers`);
    assert.equal(report.sigkills, 1);
    assert.ok(report.scaleInSigterms >= 2, `${report.scaleInSigterms} scale-in SIGTERMs`);
  });
});
