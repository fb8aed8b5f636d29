import { InferenceSession, asFloat32, float32 } from '../runtime/inference-session.port';
import { RopeTables } from './rope';

export interface DitInput {
  /** `[B, S, in]`: per row, the noisy tokens then the reference tokens. */
  readonly img: Float32Array;
  /** Connector output `[B, T, context]`. */
  readonly txt: Float32Array;
  /** Pooled vector `[B, vec]`. */
  readonly y: Float32Array;
  /** One t per row. */
  readonly t: Float32Array;
  /** RoPE tables for the T + S positions, text first. */
  readonly rope: RopeTables;
  readonly batch: number;
  /** Image tokens per row (S). */
  readonly imageTokens: number;
  /** Text tokens per row (T). */
  readonly textTokens: number;
}

/** One DiT forward: the velocity for every image token `[B, S, out]` (the sampler keeps the noisy part). */
export async function runDit(session: InferenceSession, input: DitInput): Promise<Float32Array> {
  const { batch, rope, imageTokens, textTokens } = input;
  if (rope.length !== textTokens + imageTokens) {
    throw new RangeError(`RoPE tables cover ${rope.length} positions, the sequence has ${textTokens + imageTokens}`);
  }
  const out = await session.run({
    img: float32([batch, imageTokens, input.img.length / (batch * imageTokens)], input.img),
    txt: float32([batch, textTokens, input.txt.length / (batch * textTokens)], input.txt),
    y: float32([batch, input.y.length / batch], input.y),
    t_vec: float32([batch], input.t),
    pe_cos: float32([rope.length, rope.pairs], rope.cos),
    pe_sin: float32([rope.length, rope.pairs], rope.sin),
  });
  return asFloat32(out.velocity, 'velocity');
}
