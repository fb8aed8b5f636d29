// `npm run fleet [ci|full]`: runs the fleet test (fleet-run.ts) and prints its report; exit 1 on any loss.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLEET_PROFILES, formatFleetReport, runFleet } from './fleet-run';
import { REPO_ROOT } from './scaling-rule';

async function main(): Promise<number> {
  const name = (process.argv[2] ?? 'full') as keyof typeof FLEET_PROFILES;
  const profile = FLEET_PROFILES[name];
  if (!profile) throw new Error(`unknown profile ${name}; one of ${Object.keys(FLEET_PROFILES).join(', ')}`);
  const report = await runFleet(profile, (line) => console.log(`[fleet] ${line}`));
  const text = formatFleetReport(report);
  console.log(text);
  const dir = join(REPO_ROOT, '.cache', 'fleet');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `report-${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const ok =
    report.lost === 0 &&
    report.outputsWrittenTwice === 0 &&
    report.terminal.succeeded === report.accepted &&
    report.sigkills === 1 &&
    report.scaleInSigterms >= 2;
  console.log(ok ? 'fleet: passed' : 'fleet: FAILED');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
