/** ‖ours − ref‖₂ / ‖ref‖₂, the golden gate's metric. Returns Infinity when anything is NaN or infinite. */
export function relativeL2(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) throw new Error(`length mismatch: ${ours.length} vs ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i];
    const b = ref[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
    num += (a - b) * (a - b);
    den += b * b;
  }
  if (den === 0) return Math.sqrt(num) === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

export function maxAbsDiff(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    if (!(d <= m)) m = d; // NaN propagates as the max
  }
  return m;
}
