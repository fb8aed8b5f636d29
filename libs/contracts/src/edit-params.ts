import { OUTPUT_FORMATS, SIZE_LEVELS, type OutputFormat, type SizeLevel } from './edit-object';
import { ErrorCode } from './error-codes';
import { findSpecialToken } from './special-tokens';

/**
 * The one definition of an edit's parameters: ranges and defaults (CONTRACT: POST /v1/edits). The API's request
 * schema, the edit object's JSON schema, the CLI's flags and the pipeline's own request check all read these, so
 * no consumer can accept what another refuses (docs/MODEL.md §21).
 */
export const EDIT_PARAMS = {
  instruction: { minCodePoints: 1, maxCodePoints: 2000 },
  /** The API draws a random seed when none is given; the pipeline and the CLI default to the official 42. */
  seed: { min: 0, max: 2 ** 32 - 1, default: 42 },
  steps: { min: 1, max: 100, default: 28 },
  guidance: { min: 1.0, max: 20.0, default: 6.0 },
  /** The full model's levels; a models folder may declare others (its manifest's `size_levels`). */
  sizeLevel: { levels: SIZE_LEVELS, default: 512 as SizeLevel },
  outputFormat: { values: OUTPUT_FORMATS, default: 'png' as OutputFormat },
  /** Step previews: false (none), true (every step) or every k steps, k in [min, max]. */
  previews: { min: 1, max: 100, default: false as boolean | number },
} as const;

/** How often an edit asked for previews, as a step interval: 0 for none, 1 for `true`, k for k. */
export function previewInterval(previews: boolean | number | undefined): number {
  if (previews === true) return 1;
  if (typeof previews === 'number' && Number.isInteger(previews) && previews >= 1) return previews;
  return 0;
}

/** Parameter names as the API spells them; `param` of an error names one of these. */
export type EditParamName = 'instruction' | 'seed' | 'steps' | 'guidance' | 'size_level' | 'output_format';

export interface EditParamProblem {
  readonly param: EditParamName;
  readonly code: ErrorCode;
  readonly message: string;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (no `u` flag: code units). */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why an instruction is refused (length, blank, NUL, unpaired surrogate, special-token literal), or null. */
export function instructionProblem(text: string): Omit<EditParamProblem, 'param'> | null {
  const { minCodePoints, maxCodePoints } = EDIT_PARAMS.instruction;
  const codePoints = [...text].length;
  if (codePoints < minCodePoints || codePoints > maxCodePoints) {
    return {
      code: ErrorCode.OutOfRange,
      message: `must be ${minCodePoints} to ${maxCodePoints} code points, got ${codePoints}`,
    };
  }
  if (!/\S/u.test(text)) return { code: ErrorCode.InvalidRequest, message: 'must not be only whitespace' };
  // The tokenizer cannot represent these faithfully: NUL is no text, and an unpaired surrogate has no UTF-8 form.
  if (text.includes('\u0000')) return { code: ErrorCode.InvalidRequest, message: 'must not contain NUL (U+0000)' };
  if (UNPAIRED_SURROGATE.test(text)) {
    return { code: ErrorCode.InvalidRequest, message: 'must not contain an unpaired UTF-16 surrogate' };
  }
  const token = findSpecialToken(text);
  if (token) return { code: ErrorCode.InstructionContainsSpecialToken, message: `contains the special token ${token}` };
  return null;
}

function integerProblem(
  param: EditParamName,
  value: number,
  range: { readonly min: number; readonly max: number },
): EditParamProblem | null {
  if (!Number.isInteger(value)) return { param, code: ErrorCode.InvalidRequest, message: `must be an integer` };
  if (value < range.min || value > range.max) {
    return { param, code: ErrorCode.OutOfRange, message: `must be in [${range.min}, ${range.max}], got ${value}` };
  }
  return null;
}

/** The parameters of one edit, as the pipeline and the CLI hold them; undefined means "the default". */
export interface EditParamValues {
  readonly instruction?: string;
  readonly seed?: number;
  readonly steps?: number;
  readonly guidance?: number;
  readonly sizeLevel?: number;
  readonly outputFormat?: string;
}

/**
 * Every problem with the given parameters. `sizeLevels` are the levels the loaded models support (the manifest's),
 * the full model's by default.
 */
export function editParamProblems(
  values: EditParamValues,
  sizeLevels: readonly number[] = EDIT_PARAMS.sizeLevel.levels,
): EditParamProblem[] {
  const problems: (EditParamProblem | null)[] = [];
  if (values.instruction !== undefined) {
    const problem = instructionProblem(values.instruction);
    problems.push(problem && { param: 'instruction', ...problem });
  }
  if (values.seed !== undefined) problems.push(integerProblem('seed', values.seed, EDIT_PARAMS.seed));
  if (values.steps !== undefined) problems.push(integerProblem('steps', values.steps, EDIT_PARAMS.steps));
  if (values.guidance !== undefined) {
    const { min, max } = EDIT_PARAMS.guidance;
    const g = values.guidance;
    if (!Number.isFinite(g) || g < min || g > max) {
      problems.push({
        param: 'guidance',
        code: ErrorCode.OutOfRange,
        message: `must be in [${min}, ${max}], got ${g}`,
      });
    }
  }
  if (values.sizeLevel !== undefined && !sizeLevels.includes(values.sizeLevel)) {
    problems.push({
      param: 'size_level',
      code: ErrorCode.OutOfRange,
      message: `must be one of ${sizeLevels.join(', ')}, got ${values.sizeLevel}`,
    });
  }
  if (values.outputFormat !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(values.outputFormat)) {
    problems.push({
      param: 'output_format',
      code: ErrorCode.InvalidRequest,
      message: `must be one of ${OUTPUT_FORMATS.join(', ')}, got ${values.outputFormat}`,
    });
  }
  return problems.filter((p): p is EditParamProblem => p !== null);
}
