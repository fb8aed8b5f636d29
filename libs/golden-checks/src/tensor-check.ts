import { maxAbsDiff, relativeL2 } from '@step1x/tensors';
import { CaseResult, FLOAT_GATE, ZERO_REF_ABS_GATE } from './case-result';

/** Accumulates per-tensor comparisons of one case into a CaseResult. */
export class CaseChecker {
  private worstName = '-';
  private worstError = 0;
  private floatChecked = false;
  private failures: string[] = [];
  private notes: string[] = [];

  constructor(
    readonly caseName: string,
    private readonly gate = FLOAT_GATE,
  ) {}

  /** Float tensor under the golden gate (rel L2 ≤ 1e-4; abs ≤ 1e-6 where the reference is all zeros). */
  float(name: string, ours: ArrayLike<number>, ref: ArrayLike<number>, gate = this.gate): void {
    this.floatChecked = true;
    if (ours.length !== ref.length) {
      this.fail(name, `has ${ours.length} values, reference ${ref.length}`);
      return;
    }
    let refNorm = 0;
    for (let i = 0; i < ref.length; i++) refNorm += ref[i] * ref[i];
    const error = refNorm === 0 ? maxAbsDiff(ours, ref) : relativeL2(ours, ref);
    const ok = Number.isFinite(error) && (refNorm === 0 ? error <= ZERO_REF_ABS_GATE : error <= gate);
    const worse = Number.isNaN(error) || error > this.worstError;
    if (worse || this.worstName === '-') {
      this.worstError = Number.isNaN(error) ? Infinity : error;
      this.worstName = name;
    }
    if (!ok) this.fail(name, `error ${error.toExponential(3)} over the gate`);
  }

  /** Integers, ids, images: every element equal. */
  exact(name: string, ours: ArrayLike<number | bigint>, ref: ArrayLike<number | bigint>): void {
    if (ours.length !== ref.length) {
      this.fail(name, `has ${ours.length} values, reference ${ref.length}`);
      return;
    }
    for (let i = 0; i < ref.length; i++) {
      if (ours[i] !== ref[i] && Number(ours[i]) !== Number(ref[i])) {
        this.fail(name, `differs at index ${i}: ${String(ours[i])} vs ${String(ref[i])}`);
        return;
      }
    }
    if (this.worstName === '-') this.worstName = name;
  }

  /** 8-bit images: every channel within `maxLevels` of the reference. */
  levels(name: string, ours: ArrayLike<number>, ref: ArrayLike<number>, maxLevels: number): void {
    if (ours.length !== ref.length) return this.fail(name, `has ${ours.length} values, reference ${ref.length}`);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(ours[i] - ref[i]);
      if (d > 0) differing++;
      worst = Math.max(worst, d);
    }
    if (differing > 0) this.note(`${name}: ${differing} of ${ref.length} channels differ, by at most ${worst}`);
    if (worst > maxLevels) this.fail(name, `differs by ${worst} levels (allowed ${maxLevels})`);
    if (this.worstName === '-') this.worstName = name;
  }

  /** Within `ulps` float32 units in the last place, element by element (the schedule gate). */
  ulps(name: string, ours: ArrayLike<number>, ref: ArrayLike<number>, ulps = 1): void {
    if (ours.length !== ref.length) return this.fail(name, `has ${ours.length} values, reference ${ref.length}`);
    for (let i = 0; i < ref.length; i++) {
      const a = Math.fround(ours[i]);
      const b = Math.fround(ref[i]);
      const ulp = Math.max(Math.abs(Math.fround(b * (1 + 2 ** -23)) - b), 2 ** -149);
      if (!(Math.abs(a - b) <= ulps * ulp))
        return this.fail(name, `index ${i}: ${a} vs ${b}, more than ${ulps} ulp apart`);
    }
  }

  fail(name: string, reason: string): void {
    this.failures.push(`${name}: ${reason}`);
    this.worstName = this.failures.length === 1 ? name : this.worstName;
  }

  note(line: string): void {
    this.notes.push(line);
  }

  result(): CaseResult {
    const detail = [...this.failures.map((f) => `FAIL ${f}`), ...this.notes].join('\n');
    return {
      case: this.caseName,
      metric: this.floatChecked ? this.worstError : 'exact',
      worst: this.worstName,
      ok: this.failures.length === 0,
      detail: detail || undefined,
    };
  }
}
