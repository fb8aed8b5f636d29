/** Machine-readable codes of the weight-loading errors. */
export type WeightErrorCode =
  | 'checkpoint_not_found'
  | 'checkpoint_invalid'
  | 'checkpoint_duplicate_tensor'
  | 'checkpoint_index_mismatch'
  | 'checkpoint_tensor_not_found'
  | 'state_dict_mismatch';

export class WeightError extends Error {
  constructor(
    readonly code: WeightErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WeightError';
  }
}

/** A checkpoint that cannot be opened or read as asked (missing file, corrupt index, duplicate names). */
export class CheckpointError extends WeightError {
  constructor(code: Exclude<WeightErrorCode, 'state_dict_mismatch'>, message: string) {
    super(code, message);
    this.name = 'CheckpointError';
  }
}

export interface MisshapedTensor {
  readonly name: string;
  readonly expected: readonly number[];
  readonly actual: readonly number[];
}

export interface MistypedTensor {
  readonly name: string;
  readonly dtype: string;
  readonly allowed: readonly string[];
}

export interface StateDictProblems {
  /** Expected parameters the checkpoint lacks (optional ones excluded). */
  readonly missing: readonly string[];
  /** Checkpoint tensors the model has no parameter for (ignored and allowed-unused ones excluded). */
  readonly unexpected: readonly string[];
  readonly misshaped: readonly MisshapedTensor[];
  readonly mistyped: readonly MistypedTensor[];
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** One error naming every mismatch between a model's parameter table and a checkpoint (strict load). */
export class StateDictMismatchError extends WeightError {
  constructor(
    readonly source: string,
    readonly problems: StateDictProblems,
    expectedShapes: ReadonlyMap<string, readonly number[]>,
    actualShapes: ReadonlyMap<string, readonly number[]>,
  ) {
    const { missing, unexpected, misshaped, mistyped } = problems;
    const lines = [
      `${source} does not match the model: ${missing.length} missing, ${unexpected.length} unexpected, ` +
        `${misshaped.length} misshaped, ${mistyped.length} of an unsupported dtype`,
      ...missing.map((n) => `  missing:    ${n} ${shapeText(expectedShapes.get(n) ?? [])}`),
      ...unexpected.map((n) => `  unexpected: ${n} ${shapeText(actualShapes.get(n) ?? [])}`),
      ...misshaped.map(
        (m) => `  misshaped:  ${m.name} expected ${shapeText(m.expected)}, checkpoint has ${shapeText(m.actual)}`,
      ),
      ...mistyped.map((m) => `  dtype:      ${m.name} is ${m.dtype}, expected one of ${m.allowed.join(', ')}`),
    ];
    super('state_dict_mismatch', lines.join('\n'));
    this.name = 'StateDictMismatchError';
  }
}
