/** One golden case's verdict, printed as `<case>  <max rel L2 or "exact">  <worst tensor>  ok|FAIL`. */
export interface CaseResult {
  case: string;
  /** Largest relative L2 error over the float tensors checked, or 'exact' when only exact checks ran. */
  metric: number | 'exact';
  /** The tensor with the largest error (or the first mismatching one). */
  worst: string;
  ok: boolean;
  /** Extra lines printed under the case (diagnostics, the reason of a failure). */
  detail?: string;
}

export const FLOAT_GATE = 1e-4;
/** Where the reference norm is 0, the max absolute error must stay below this instead. */
export const ZERO_REF_ABS_GATE = 1e-6;

/** The tensors a failed case names in its `FAIL <tensor>: <reason>` detail lines (CaseChecker's format). */
export function failedTensorNames(r: CaseResult): string[] {
  return (r.detail ?? '')
    .split('\n')
    .filter((l) => l.startsWith('FAIL '))
    .map((l) => l.slice(5).split(':')[0]);
}
