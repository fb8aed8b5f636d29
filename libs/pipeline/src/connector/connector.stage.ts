import { InferenceSession, asFloat32, float32, int64 } from '../runtime/inference-session.port';

export interface ConnectorInput {
  /** MLLM hidden states `[B, T, in]`, padded rows zero. */
  readonly llmEmbedding: Float32Array;
  /** `[B, T]` 0/1. */
  readonly mask: ArrayLike<number> | BigInt64Array;
  /** One t in [0, 1] per batch row. */
  readonly t: Float32Array;
  readonly batch: number;
  readonly tokens: number;
  readonly channels: number;
}

export interface ConnectorOutput {
  /** Refined text stream `[B, T, hidden]`. */
  readonly txt: Float32Array;
  /** Pooled vector `[B, pooled]`. */
  readonly y: Float32Array;
  readonly hidden: number;
  readonly pooled: number;
}

/** The connector turns MLLM states into the DiT's text stream and pooled vector; it depends on t, so runs per step. */
export async function runConnector(session: InferenceSession, input: ConnectorInput): Promise<ConnectorOutput> {
  const { batch, tokens, channels } = input;
  const out = await session.run({
    llm_embedding: float32([batch, tokens, channels], input.llmEmbedding),
    mask: int64([batch, tokens], input.mask),
    t_vec: float32([batch], input.t),
  });
  return {
    txt: asFloat32(out.txt, 'txt'),
    y: asFloat32(out.y, 'y'),
    hidden: out.txt.dims[2],
    pooled: out.y.dims[1],
  };
}
