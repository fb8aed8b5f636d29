import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BuildOptions } from '@step1x/model-builder';
import { CaseResult } from './case-result';
import { MLLM_INPUTS_FORMAT, checkMllmInputsSet } from './mllm-inputs.check';
import { checkStep1XTinySet } from './step1x-tiny.check';
import { QWEN25VL_TINY_FORMAT, checkQwen25vlTinySet } from './qwen25vl-tiny.check';
import { STEP1X_E2E_FORMAT, checkStep1XE2ESet } from './step1x-e2e.check';

export type SetChecker = (dir: string, options: BuildOptions) => Promise<CaseResult[]>;

/** Checkers by the manifest's `format`; an unknown format fails rather than passing silently. */
const CHECKERS: Record<string, SetChecker> = {
  'step1x-tiny/1': checkStep1XTinySet,
  [MLLM_INPUTS_FORMAT]: (dir) => checkMllmInputsSet(dir),
  [QWEN25VL_TINY_FORMAT]: checkQwen25vlTinySet,
  [STEP1X_E2E_FORMAT]: (dir, options) => checkStep1XE2ESet(dir, options),
};

export function registerGoldenFormat(format: string, checker: SetChecker): void {
  CHECKERS[format] = checker;
}

function readFormat(dir: string): string | undefined {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return undefined;
  return (JSON.parse(readFileSync(path, 'utf8')) as { format?: string }).format ?? '(none)';
}

/** Golden directories under `root`: the root itself if it has a manifest, else its child directories that do. */
export function findGoldenSets(root: string): string[] {
  const dir = resolve(root);
  if (!existsSync(dir)) throw new Error(`golden directory not found: ${dir}`);
  if (readFormat(dir) !== undefined) return [dir];
  const sets = readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((p) => statSync(p).isDirectory() && readFormat(p) !== undefined)
    .sort();
  if (sets.length === 0) throw new Error(`${dir} holds no manifest.json, and no subdirectory does`);
  return sets;
}

const setFailure = (dir: string, reason: string): CaseResult => ({
  case: dir,
  metric: 'exact',
  worst: '-',
  ok: false,
  detail: `FAIL ${reason}`,
});

/**
 * Runs every case of one golden set. A set the checker cannot run at all, or that yields no case (an empty or
 * misread manifest), becomes one failed case: a set never passes by checking nothing.
 */
export async function checkGoldenSet(dir: string, options: BuildOptions): Promise<CaseResult[]> {
  const format = readFormat(dir) ?? '(missing manifest)';
  const checker = CHECKERS[format];
  if (!checker) return [setFailure(dir, `unknown golden format "${format}"`)];
  try {
    const results = await checker(dir, options);
    return results.length > 0 ? results : [setFailure(dir, `the ${format} set has no case to check`)];
  } catch (err) {
    return [setFailure(dir, (err as Error).stack ?? String(err))];
  }
}

export function formatCaseLine(r: CaseResult): string {
  const metric = r.metric === 'exact' ? 'exact' : r.metric.toExponential(3);
  return `${r.case}  ${metric}  ${r.worst}  ${r.ok ? 'ok' : 'FAIL'}`;
}
