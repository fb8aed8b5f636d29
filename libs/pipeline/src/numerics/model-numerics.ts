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
 * Index of the first NaN or ±Inf, or -1. One pass with a single subtraction per element (x − x is 0 exactly when x
 * is finite), so checking a 1024² decoded image costs about a millisecond: the pipeline checks each stage's output
 * once per edit, not per step, which keeps it inside the orchestration budget.
 */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** @throws ModelNumericsError when `values` holds a NaN or ±Inf */
export function assertFiniteOutput(checkpoint: NumericsCheckpoint, values: Float32Array): void {
  const index = firstNonFinite(values);
  if (index >= 0) throw new ModelNumericsError(checkpoint, index, values[index], values.length);
}
