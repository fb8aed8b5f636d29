import { GraphBuilder, Value } from '../../graph/graph-builder';

/**
 * Qwen2.5-VL's rotary embeddings (docs/MODEL.md §8). Unlike the DiT's interleaved pairs, Qwen rotates HALVES:
 * `x·cos + rotate_half(x)·sin` with `rotate_half(x) = [−x₂, x₁]` (x₁, x₂ the first and second half of the head),
 * and cos/sin carry each frequency twice, once per half.
 */

/** θ^(−2i/dim) for i < dim/2, as transformers' float32 `1 / θ ** (arange(0, dim, 2) / dim)`. */
export function inverseFrequencies(dim: number, theta: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const exponent = Math.fround((2 * i) / dim);
    out[i] = Math.fround(1 / Math.fround(Math.pow(theta, exponent)));
  }
  return out;
}

/** x `[..., D]` float32 rotated by cos/sin broadcastable to it. */
export function applyRotateHalfRope(g: GraphBuilder, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const xf = g.cast(x, 'float32');
  const [first, second] = g.split(xf, -1, [headDim / 2, headDim / 2]);
  const rotated = g.concat([g.op('Neg', [second]), first], -1);
  return g.add(g.mul(xf, cos), g.mul(rotated, sin));
}

/**
 * The vision tower's 2-D RoPE: positions `[P, 2]` int64 (patch row h, column w) → cos/sin `[P, headDim]`.
 * The first quarter of the head rotates with h, the second with w (θ^(−4i/headDim) each), then both repeat for the
 * second half, as transformers' `rot_pos_emb` + `cat((emb, emb))`.
 */
export function visionRopeTables(
  g: GraphBuilder,
  positions: Value,
  headDim: number,
  theta: number,
): { cos: Value; sin: Value } {
  const inv = inverseFrequencies(headDim / 2, theta); // headDim/4 frequencies
  const pos = g.unsqueeze(g.cast(positions, 'float32'), [-1]); // [P, 2, 1]
  const perAxis = g.mul(pos, g.constFloat(inv, [1, 1, inv.length])); // [P, 2, headDim/4]
  const half = g.reshape(perAxis, [-1, headDim / 2]); // [h freqs, w freqs]
  const angles = g.concat([half, half], -1);
  return { cos: g.cos(angles), sin: g.sin(angles) };
}

/**
 * The language model's M-RoPE: position ids `[3, B, L]` int64 (t, h, w rows) → cos/sin `[B, 1, L, headDim]`.
 * Channel j uses frequency θ^(−2(j mod D/2)/D) of the axis its `mrope_section` chunk names: the sections
 * [t, h, w] tile the first half of the head and repeat over the second half.
 */
export function mropeTables(
  g: GraphBuilder,
  positionIds: Value,
  headDim: number,
  theta: number,
  section: readonly [number, number, number],
): { cos: Value; sin: Value } {
  const inv = inverseFrequencies(headDim, theta);
  const axisOfChannel: number[] = [];
  for (let repeat = 0; repeat < 2; repeat++) {
    section.forEach((size, axis) => {
      for (let i = 0; i < size; i++) axisOfChannel.push(axis);
    });
  }
  const freqOfChannel = Float32Array.from({ length: headDim }, (_, j) => inv[j % (headDim / 2)]);
  const perToken = g.transpose(g.cast(positionIds, 'float32'), [1, 2, 0]); // [B, L, 3]
  const chosen = g.gather(perToken, g.constInt64(axisOfChannel), 2); // [B, L, headDim]
  const angles = g.unsqueeze(g.mul(chosen, g.constFloat(freqOfChannel, [headDim])), [1]);
  return { cos: g.cos(angles), sin: g.sin(angles) };
}
