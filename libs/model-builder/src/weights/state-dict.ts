import { DType, TensorSpec } from '@step1x/tensors';
import { matchesAny, NamePattern } from './name-patterns';
import { ParameterTable, sameShape, shapeOf } from './tensor-table';
import { MisshapedTensor, MistypedTensor, StateDictMismatchError, StateDictProblems } from './weight-errors';

export interface StrictLoadOptions {
  /** Checkpoint tensors skipped without a word (e.g. `lm_head.*` for Qwen). @defaultValue [] */
  readonly ignore?: readonly NamePattern[];
  /**
   * Checkpoint tensors that may be present although the model has no parameter for them, e.g. v1.0's
   * `connector.scale_factor` when the caller builds v1.1 and accepts a v1.0 file. @defaultValue []
   */
  readonly allowUnused?: readonly NamePattern[];
  /** Expected parameters that may be absent from the checkpoint. @defaultValue [] */
  readonly optional?: readonly NamePattern[];
  /** Dtypes every used tensor may have. @defaultValue ['F32', 'F16', 'BF16'] */
  readonly dtypes?: readonly DType[];
  /** How the source is named in the error. @defaultValue 'checkpoint' */
  readonly sourceName?: string;
}

/** What a strict load checks: a name → dtype/shape view (a `Checkpoint`, or a table read from `*.tensors.json`). */
export interface TensorCatalog<T extends TensorSpec = TensorSpec> {
  readonly tensors: ReadonlyMap<string, T>;
}

export interface StateDictComparison<T extends TensorSpec = TensorSpec> extends StateDictProblems {
  /** Expected name → checkpoint tensor, in the expected table's order (only names present with the right shape). */
  readonly matched: ReadonlyMap<string, T>;
  /** Optional parameters the checkpoint lacks. */
  readonly absentOptional: readonly string[];
  /** Checkpoint tensors present, unused and allowed by `allowUnused`. */
  readonly unusedAllowed: readonly string[];
  /** Checkpoint tensors skipped by `ignore`. */
  readonly ignored: readonly string[];
}

const DEFAULT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];

/** Compares a model's parameter table with a checkpoint without throwing (see `loadStateDictStrict`). */
export function compareStateDict<T extends TensorSpec>(
  expected: ParameterTable,
  checkpoint: TensorCatalog<T>,
  options: StrictLoadOptions = {},
): StateDictComparison<T> {
  const dtypes = options.dtypes ?? DEFAULT_DTYPES;
  const matched = new Map<string, T>();
  const missing: string[] = [];
  const absentOptional: string[] = [];
  const misshaped: MisshapedTensor[] = [];
  const mistyped: MistypedTensor[] = [];
  for (const [name, entry] of expected) {
    const shape = shapeOf(entry);
    const tensor = checkpoint.tensors.get(name);
    if (!tensor || matchesAny(name, options.ignore)) {
      if (matchesAny(name, options.optional)) absentOptional.push(name);
      else missing.push(name);
      continue;
    }
    if (!sameShape(shape, tensor.shape)) {
      misshaped.push({ name, expected: shape, actual: tensor.shape });
      continue;
    }
    if (!dtypes.includes(tensor.dtype)) {
      mistyped.push({ name, dtype: tensor.dtype, allowed: dtypes });
      continue;
    }
    matched.set(name, tensor);
  }
  const unexpected: string[] = [];
  const unusedAllowed: string[] = [];
  const ignored: string[] = [];
  for (const name of checkpoint.tensors.keys()) {
    if (expected.has(name)) continue;
    if (matchesAny(name, options.ignore)) ignored.push(name);
    else if (matchesAny(name, options.allowUnused)) unusedAllowed.push(name);
    else unexpected.push(name);
  }
  return { matched, missing, unexpected, misshaped, mistyped, absentOptional, unusedAllowed, ignored };
}

/**
 * Strict load (style rule 6): every expected parameter must be in the checkpoint with its exact shape, and every
 * checkpoint tensor must be used, ignored or explicitly allowed. On any mismatch, one StateDictMismatchError names
 * every missing, unexpected, misshaped and wrongly typed tensor. Returns the expected name → tensor binding.
 */
export function loadStateDictStrict<T extends TensorSpec>(
  expected: ParameterTable,
  checkpoint: TensorCatalog<T>,
  options: StrictLoadOptions = {},
): StateDictComparison<T> {
  const result = compareStateDict(expected, checkpoint, options);
  const { missing, unexpected, misshaped, mistyped } = result;
  if (missing.length + unexpected.length + misshaped.length + mistyped.length > 0) {
    const expectedShapes = new Map([...expected].map(([n, e]) => [n, shapeOf(e)]));
    const actualShapes = new Map([...checkpoint.tensors].map(([n, t]) => [n, t.shape]));
    const source =
      options.sourceName ?? ('path' in checkpoint ? String((checkpoint as { path: unknown }).path) : 'checkpoint');
    throw new StateDictMismatchError(
      source,
      { missing, unexpected, misshaped, mistyped },
      expectedShapes,
      actualShapes,
    );
  }
  return result;
}
