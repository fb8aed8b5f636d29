import { PipelineError } from '../pipeline-error';

/** Where a non-finite value was first seen; the message names it so a GPU/fp16 overflow can be traced. */
export type NumericsCheckpoint = 'mllm' | 'vae_encoder' | 'sampler' | 'vae_decoder';

const PRODUCED_BY: Readonly<Record<NumericsCheckpoint, string>> = {
  mllm: 'the Qwen2.5-VL graphs (qwen_vision, qwen_llm)',
  vae_encoder: 'the VAE encoder',
  sampler: 'the connector or the DiT',
  vae_decoder: 'the VAE decoder',
};

/**
 * A graph produced NaN or ±Inf (typically fp16 overflow on a GPU). The edit fails with `model_numerics` instead of
 * returning a black or noisy image marked succeeded (docs/MODEL.md §20); a retry would give the same numbers.
 */
export class ModelNumericsError extends PipelineError<'model_numerics'> {
  override readonly name = 'ModelNumericsError';
  constructor(
    readonly checkpoint: NumericsCheckpoint,
    readonly index: number,
    readonly value: number,
    total: number,
  ) {
    super(
      'model_numerics',
      `non-finite output (${value} at element ${index} of ${total}) from ${PRODUCED_BY[checkpoint]}; ` +
        'the models produced invalid numbers for this input (with fp16 weights this is usually an overflow)',
    );
  }
}

/**
 * Index of the first NaN or ±Inf, or -1. `x·0` is 0 for every finite x and NaN otherwise, so the common case is one
 * branch-free pass summing those (unrolled by 4); only a failed sum looks for the index. About a millisecond for a
 * 1024² decoded image: the pipeline checks each stage's output once per edit, not per step, which keeps it far inside
 * the orchestration budget.
 */
export function firstNonFinite(values: Float32Array): number {
  const n = values.length;
  let acc = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) acc += values[i] * 0 + values[i + 1] * 0 + values[i + 2] * 0 + values[i + 3] * 0;
  for (; i < n; i++) acc += values[i] * 0;
  if (acc === 0) return -1;
  for (let j = 0; j < n; j++) {
    const v = values[j];
    if (v - v !== 0) return j;
  }
  return -1;
}

/** @throws ModelNumericsError when `values` holds a NaN or ±Inf */
export function assertFiniteOutput(checkpoint: NumericsCheckpoint, values: Float32Array): void {
  const index = firstNonFinite(values);
  if (index >= 0) throw new ModelNumericsError(checkpoint, index, values[index], values.length);
}
