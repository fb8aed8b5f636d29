import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions } from '../../graph/module';

/**
 * Additive attention biases built in-graph from what transformers itself takes (`cu_seqlens`, `attention_mask`),
 * so callers feed the same tensors as the reference. Masked entries get the compute type's lowest value, as eager
 * attention adds `finfo(dtype).min` (docs/MODEL.md §8): float32 in fp32 builds, float16's −65504 in fp16 builds (where
 * float32's lowest would become −inf).
 */
const FLOAT32_LOWEST = -3.4028234663852886e38;
const FLOAT16_LOWEST = -65504;

export function maskedValue(options: BuildOptions): number {
  return options.precision === 'fp16' ? FLOAT16_LOWEST : FLOAT32_LOWEST;
}

/** 0, 1, …, n−1 (int64) where n is dimension `axis` of `like`. */
export function rangeOfDim(g: GraphBuilder, like: Value, axis: number): Value {
  const n = g.squeeze(g.shape(like, axis, axis + 1), [0]);
  return g.op('Range', [g.constInt64([0], []), n, g.constInt64([1], [])], {}, { outputElemType: 'int64' });
}

function biasFromAllowed(g: GraphBuilder, allowed: Value, options: BuildOptions): Value {
  return g.where(allowed, g.constFloat([0], []), g.constFloat([maskedValue(options)], []));
}

/**
 * Block-diagonal bias `[1, 1, P, P]` for the rows of `x` (`[1, P, ·]`): row r belongs to segment s when
 * `cuSeqlens[s] ≤ r < cuSeqlens[s+1]`; rows attend only within their segment (transformers runs each segment as
 * its own attention call, which this reproduces exactly).
 */
export function segmentBias(g: GraphBuilder, x: Value, cuSeqlens: Value, options: BuildOptions): Value {
  const rows = rangeOfDim(g, x, 1); // [P]
  const boundaries = g.slice(g.cast(cuSeqlens, 'int64'), 0, 1, Number.MAX_SAFE_INTEGER); // ends of every segment
  const past = g.op(
    'GreaterOrEqual',
    [g.unsqueeze(rows, [1]), g.unsqueeze(boundaries, [0])],
    {},
    { outputElemType: 'bool' },
  );
  const segment = g.reduceSum(g.cast(past, 'int64'), [1], false); // [P]
  const same = g.equal(g.unsqueeze(segment, [1]), g.unsqueeze(segment, [0])); // [P, P]
  return g.unsqueeze(biasFromAllowed(g, same, options), [0, 1]);
}

/**
 * Causal + padding bias `[B, 1, L, L]`: query i sees key j when j ≤ i and `attentionMask[b, j] = 1`. A masked
 * token's own row is still computed (it sees the valid keys before it), as in transformers.
 */
export function causalPaddingBias(g: GraphBuilder, attentionMask: Value, options: BuildOptions): Value {
  const idx = rangeOfDim(g, attentionMask, 1); // [L]
  const causal = g.op('GreaterOrEqual', [g.unsqueeze(idx, [1]), g.unsqueeze(idx, [0])], {}, { outputElemType: 'bool' });
  const keyValid = g.unsqueeze(g.equal(g.cast(attentionMask, 'int64'), g.constInt64([1], [])), [1, 2]); // [B,1,1,L]
  return biasFromAllowed(g, g.and(g.unsqueeze(causal, [0, 1]), keyValid), options);
}
