import { GraphBuilder, Value } from '../graph/graph-builder';
import { BuildOptions } from '../graph/module';

/** Splits a fused `[B, L, 3·H·D]` projection into q, k, v of shape `[B, H, L, D]` (K outermost, then heads). */
export function splitQkv(g: GraphBuilder, qkv: Value, heads: number, headDim: number): [Value, Value, Value] {
  const r = g.reshape(qkv, [0, 0, 3, heads, headDim]);
  const perm = g.transpose(r, [2, 0, 3, 1, 4]); // [3, B, H, L, D]
  const [q, k, v] = g.split(perm, 0, [1, 1, 1]);
  return [g.squeeze(q, [0]), g.squeeze(k, [0]), g.squeeze(v, [0])];
}

/**
 * softmax(q·kᵀ/√D + bias)·v for q, k, v `[B, H, L, D]` (float32 in), returning `[B, L, H·D]` float32.
 * `bias`, if given, is additive and broadcastable to `[B, H, L, L]` (0 = attend, a huge negative = masked).
 */
export function attention(
  g: GraphBuilder,
  options: BuildOptions,
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  headDim: number,
  bias?: Value,
): Value {
  const compute = options.precision === 'fp16' ? 'float16' : 'float32';
  const scale = 1 / Math.sqrt(headDim);
  if (options.attention === 'fused') {
    const toBsd = (x: Value) => g.cast(g.reshape(g.transpose(x, [0, 2, 1, 3]), [0, 0, heads * headDim]), compute);
    const b = bias ? g.cast(bias, compute) : undefined;
    const out = g.multiHeadAttention(toBsd(q), toBsd(k), toBsd(v), heads, scale, b);
    return g.cast(out, 'float32');
  }
  let scores = g.cast(g.matmulTransB(g.cast(q, compute), g.cast(k, compute), scale), 'float32');
  if (bias) scores = g.add(scores, bias);
  const probs = g.cast(g.softmax(scores, -1), compute);
  const out = g.matmul(probs, g.cast(v, compute)); // [B, H, L, D]
  return g.cast(g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, heads * headDim]), 'float32');
}

/**
 * Rotary embedding on interleaved pairs (x[2p], x[2p+1]) as FLUX's `apply_rope`: x `[B, H, L, D]`,
 * cos/sin `[L, D/2]` precomputed by the pipeline. Float32.
 */
export function applyInterleavedRope(g: GraphBuilder, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const pairs = g.reshape(g.cast(x, 'float32'), [0, 0, 0, headDim / 2, 2]);
  const [x0, x1] = g.split(pairs, 4, [1, 1]); // [B, H, L, D/2, 1]
  const c = g.unsqueeze(cos, [-1]); // [L, D/2, 1]
  const s = g.unsqueeze(sin, [-1]);
  const out0 = g.sub(g.mul(c, x0), g.mul(s, x1));
  const out1 = g.add(g.mul(s, x0), g.mul(c, x1));
  return g.reshape(g.concat([out0, out1], 4), [0, 0, 0, headDim]);
}

/**
 * The sinusoidal timestep embedding of FLUX / the connector: t·timeFactor times
 * freqs_i = exp(−ln(10000)·i/half), laid out as [cos, sin]. t `[B]` → `[B, dim]` float32.
 */
export function timestepEmbedding(g: GraphBuilder, t: Value, dim: number, timeFactor: number): Value {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  const negLog = Math.fround(-Math.log(10000));
  for (let i = 0; i < half; i++) freqs[i] = Math.fround(Math.exp(Math.fround(Math.fround(negLog * i) / half)));
  const scaled = g.mul(g.cast(t, 'float32'), g.constFloat([timeFactor], []));
  const args = g.mul(g.unsqueeze(scaled, [1]), g.constFloat(freqs, [1, half]));
  return g.concat([g.cos(args), g.sin(args)], 1);
}
