/**
 * One Euler step of the rectified flow (docs/MODEL.md §18): x ← x + (t_prev − t_curr)·v, moving from t_curr towards
 * t_prev < t_curr along the predicted velocity v = noise − x0.
 *
 * Float semantics follow the official loop, where the timesteps are Python floats (`ts.tolist()`) and x, v are
 * float32 tensors: the difference is taken in float64, the scalar is rounded to float32 when it meets the tensor,
 * then the product and the sum are separate float32 ops.
 */

const f32 = Math.fround;

/** The float32 scalar the official step multiplies by: f32(t_prev − t_curr), the difference taken in float64. */
export function eulerStepSize(tCurr: number, tPrev: number): number {
  return f32(tPrev - tCurr);
}

/**
 * Returns x + (t_prev − t_curr)·v. Pass `out` (which may be `x` itself) to write in place of a new array.
 */
export function eulerStep(
  x: Float32Array,
  velocity: Float32Array,
  tCurr: number,
  tPrev: number,
  out: Float32Array = new Float32Array(x.length),
): Float32Array {
  if (velocity.length !== x.length) throw new RangeError(`x has ${x.length} values, velocity ${velocity.length}`);
  if (out.length !== x.length) throw new RangeError(`out has ${out.length} values, x ${x.length}`);
  const dt = eulerStepSize(tCurr, tPrev);
  for (let i = 0; i < x.length; i++) out[i] = f32(x[i] + f32(dt * velocity[i]));
  return out;
}
