import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BuildOptions } from '@step1x/model-builder';
import { checkGoldenSet, findGoldenSets, formatCaseLine } from '@step1x/golden-checks';
import { goldenRoot, workspaceRoot } from '@step1x/tensors';

export const GOLDEN_USAGE = `step1x golden [<dir>...] [--attention plain|fused]
  Checks every case of each golden directory (or of each golden directory inside <dir>) against our pipeline.
  Without <dir>: the golden root (GOLDEN_ROOT, default ../shared/golden) and the project's end-to-end set
  (test/golden-e2e). Prints one line per case and a final "N passed, M failed"; exits non-zero on any failure.`;

/** What `npm run golden` checks with no argument: every stage set and the end-to-end set. */
function defaultGoldenDirs(): string[] {
  return [goldenRoot(), join(workspaceRoot(), 'test', 'golden-e2e')];
}

export async function goldenCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { attention: { type: 'string', default: 'plain' }, quiet: { type: 'boolean', default: false } },
  });
  const roots = positionals.length > 0 ? positionals : defaultGoldenDirs();
  const attention = values.attention;
  if (attention !== 'plain' && attention !== 'fused') throw new UsageError('--attention must be plain or fused');
  const options: BuildOptions = { precision: 'fp32', attention };
  let passed = 0;
  let failed = 0;
  for (const dir of roots.flatMap((root) => findGoldenSets(root))) {
    console.log(`# ${dir}`);
    for (const r of await checkGoldenSet(dir, options)) {
      console.log(formatCaseLine(r));
      if (r.detail && (!r.ok || !values.quiet)) console.log(r.detail.replace(/^(?! )/gm, '    '));
      if (r.ok) passed++;
      else failed++;
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

export class UsageError extends Error {}
