import { parseArgs } from 'node:util';
import { BuildOptions } from '@step1x/model-builder';
import { checkGoldenSet, findGoldenSets, formatCaseLine } from '@step1x/golden-checks';

export const GOLDEN_USAGE = `step1x golden <dir> [--attention plain|fused]
  Checks every case of a golden directory (or of each golden directory inside <dir>) against our pipeline.
  Prints one line per case and a final "N passed, M failed"; exits non-zero on any failure.`;

export async function goldenCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { attention: { type: 'string', default: 'plain' }, quiet: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError(GOLDEN_USAGE);
  const attention = values.attention;
  if (attention !== 'plain' && attention !== 'fused') throw new UsageError('--attention must be plain or fused');
  const options: BuildOptions = { precision: 'fp32', attention };
  let passed = 0;
  let failed = 0;
  for (const dir of findGoldenSets(positionals[0])) {
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
