/**
 * The official rectified-flow schedule with the FLUX resolution shift (`sampling.get_schedule`, docs/MODEL.md §17),
 * reproducing PyTorch's float32 arithmetic so that ours matches the golden schedules within one float32 ulp:
 *
 *   ts = torch.linspace(1, 0, steps + 1)                      (float32)
 *   mu = m·N + b, m = (1.15 − 0.5)/(4096 − 256), b = 0.5 − 256·m   (Python float64; N = noisy tokens only)
 *   ts = e^mu / (e^mu + (1/ts − 1)^1)                          (float32 tensor ops, e^mu rounded to float32)
 *
 * Each PyTorch op rounds to float32, and a Python float meeting a float32 tensor is itself rounded to float32
 * first. `scalar / tensor` is evaluated by PyTorch as `tensor.reciprocal() * scalar`, so the division becomes a
 * float32 reciprocal followed by a float32 product; `x ** 1.0` is an exact copy.
 */

const f32 = Math.fround;

/** Shift constants of FLUX.1-dev's schedule: `get_lin_function(x1=256, y1=0.5, x2=4096, y2=1.15)`. */
export const BASE_SHIFT = 0.5;
export const MAX_SHIFT = 1.15;
export const BASE_SEQ_LEN = 256;
export const MAX_SEQ_LEN = 4096;

/** mu for `imageSeqLen` noisy tokens, in float64 exactly as the official lambda computes it. */
export function timeShiftMu(imageSeqLen: number): number {
  const slope = (MAX_SHIFT - BASE_SHIFT) / (MAX_SEQ_LEN - BASE_SEQ_LEN);
  const intercept = BASE_SHIFT - slope * BASE_SEQ_LEN;
  return slope * imageSeqLen + intercept;
}

/**
 * `torch.linspace(start, end, count)` in float32 on the CPU (scalar kernel): the step is a float32 division, the
 * first half counts up from `start` and the second half down from `end`, which makes both ends exact.
 */
export function linspaceFloat32(start: number, end: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (count === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (count - 1));
  const halfway = Math.floor(count / 2);
  for (let i = 0; i < count; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (count - i - 1)));
  }
  return out;
}

/** FLUX `time_shift(mu, 1.0, t)` on one float32 t, in PyTorch's float32 op order (see the file comment). */
export function timeShiftFloat32(mu: number, t: number): number {
  const expMu = f32(Math.exp(mu));
  const shifted = f32(f32(1 / t) - 1);
  const denominator = f32(expMu + shifted);
  return f32(f32(1 / denominator) * expMu);
}

/**
 * The `numSteps + 1` timesteps from 1 down to 0 for an image of `imageSeqLen` packed noisy tokens
 * (`N = (H/16)·(W/16)`). Consecutive pairs (t_curr, t_prev) drive the Euler steps.
 */
export function getSchedule(numSteps: number, imageSeqLen: number): Float32Array {
  if (!Number.isInteger(numSteps) || numSteps < 1)
    throw new RangeError(`numSteps must be a positive integer, got ${numSteps}`);
  if (!(imageSeqLen > 0)) throw new RangeError(`imageSeqLen must be positive, got ${imageSeqLen}`);
  const mu = timeShiftMu(imageSeqLen);
  const ts = linspaceFloat32(1, 0, numSteps + 1);
  for (let i = 0; i < ts.length; i++) ts[i] = timeShiftFloat32(mu, ts[i]);
  return ts;
}
