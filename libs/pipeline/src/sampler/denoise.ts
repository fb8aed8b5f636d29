import { runConnector } from '../connector/connector.stage';
import { runDit } from '../dit/dit.stage';
import { RopeTables } from '../dit/rope';
import { InferenceSession } from '../runtime/inference-session.port';
import { EditCanceledError } from '../edit-canceled.error';
import { GuidanceOptions, applyGuidance } from './cfg';
import { eulerStep } from './flow-match-euler';

export interface DenoiseSessions {
  readonly connector: InferenceSession;
  readonly dit: InferenceSession;
}

export interface DenoiseInput {
  /** Packed noise: the noisy tokens at t = 1, `[N, C]`. */
  readonly noiseTokens: Float32Array;
  /** Packed clean reference latent `[N, C]`; never noised, never updated. */
  readonly refTokens: Float32Array;
  /** MLLM embeddings `[2, T, D]`: row 0 cond (instruction), row 1 uncond (empty instruction, same image). */
  readonly llmEmbedding: Float32Array;
  /** `[2, T]` 0/1. */
  readonly mask: ArrayLike<number> | BigInt64Array;
  readonly textTokens: number;
  /** Schedule t_0 = 1 > … > t_steps = 0. */
  readonly timesteps: Float32Array;
  /** RoPE tables for [text; noisy; reference]. */
  readonly rope: RopeTables;
  readonly guidance?: GuidanceOptions;
  /** Checked between steps; an aborted edit stops at the next step boundary. */
  readonly signal?: AbortSignal;
  /** Called after each step with the step number (1-based) and the total. */
  readonly onStep?: (step: StepReport) => void;
  /** Report the clean-image estimate every `every` steps (step previews); absent: no extra work at all. */
  readonly cleanEstimate?: CleanEstimateRequest;
}

export interface CleanEstimateRequest {
  /** Report at steps (1-based) divisible by this. */
  readonly every: number;
  /** x̂₀ = x_t − t·v at the step's t (packed tokens, a fresh array the callee may keep). */
  readonly onEstimate: (step: number, total: number, x0Tokens: Float32Array) => void;
}

/**
 * The sampler's clean-image estimate at t: with x_t = (1 − t)·x₀ + t·ε and v = ε − x₀ (docs/MODEL.md §18),
 * x₀ = x_t − t·v. One pass over the tokens, only at the steps a preview was asked for.
 */
export function cleanEstimate(x: Float32Array, velocity: Float32Array, t: number): Float32Array {
  const out = new Float32Array(x.length);
  const tf = Math.fround(t);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - tf * velocity[i];
  return out;
}

export interface StepReport {
  readonly step: number;
  readonly total: number;
  readonly tCurr: number;
  readonly renormalised: boolean;
  /** The noisy tokens after this step. */
  readonly tokens: Float32Array;
  /** Raw DiT output `[2, 2N, C]` (cond, uncond) before guidance. */
  readonly ditOutput: Float32Array;
}

/**
 * The Step1X-Edit sampler: for each (t_curr, t_prev), the connector (it depends on t) and the DiT run on the batch
 * [cond, uncond], both rows holding [noisy; reference] tokens; CFG with the v1.1 renorm; one Euler step.
 */
export async function denoise(sessions: DenoiseSessions, input: DenoiseInput): Promise<Float32Array> {
  const { noiseTokens, refTokens, timesteps, textTokens } = input;
  const imageTokens = input.rope.length - textTokens; // noisy + reference = 2N
  const tokenChannels = noiseTokens.length / (imageTokens / 2);
  const llmChannels = input.llmEmbedding.length / (2 * textTokens);
  const size = noiseTokens.length;
  if (refTokens.length !== size) throw new RangeError('reference and noise tokens differ in size');
  let x: Float32Array = Float32Array.from(noiseTokens);
  const img = new Float32Array(4 * size);
  // The same mask every step: widen it to int64 once, not per connector call.
  const mask = input.mask instanceof BigInt64Array ? input.mask : BigInt64Array.from(Array.from(input.mask, BigInt));
  const total = timesteps.length - 1;
  for (let i = 0; i < total; i++) {
    if (input.signal?.aborted) throw new EditCanceledError(i + 1);
    const tCurr = timesteps[i];
    const tPrev = timesteps[i + 1];
    const tVec = Float32Array.of(tCurr, tCurr);
    const { txt, y } = await runConnector(sessions.connector, {
      llmEmbedding: input.llmEmbedding,
      mask,
      t: tVec,
      batch: 2,
      tokens: textTokens,
      channels: llmChannels,
    });
    img.set(x, 0);
    img.set(refTokens, size);
    img.set(x, 2 * size);
    img.set(refTokens, 3 * size);
    const velocity = await runDit(sessions.dit, {
      img,
      txt,
      y,
      t: tVec,
      rope: input.rope,
      batch: 2,
      imageTokens,
      textTokens,
    });
    const cond = velocity.subarray(0, size);
    const uncond = velocity.subarray(2 * size, 3 * size);
    const guided = applyGuidance(cond, uncond, tCurr, { channels: tokenChannels, ...input.guidance });
    const estimate = input.cleanEstimate;
    if (estimate && (i + 1) % estimate.every === 0) {
      estimate.onEstimate(i + 1, total, cleanEstimate(x, guided.velocity, tCurr));
    }
    x = eulerStep(x, guided.velocity, tCurr, tPrev);
    input.onStep?.({ step: i + 1, total, tCurr, renormalised: guided.renormalised, tokens: x, ditOutput: velocity });
  }
  return x;
}
