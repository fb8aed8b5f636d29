/**
 * The models folder as a contract between its writer (`@step1x/model-builder`, `step1x models build`) and its reader
 * (`@step1x/pipeline`): format ids, manifest shapes, graph file names and every graph's inputs and outputs. Both
 * sides import these declarations, so a graph renamed on one side fails the other's build or its load-time check
 * (docs/MODEL.md §19) instead of a run that reads `undefined`.
 */

/** Written into `manifest.json`; the pipeline refuses any other value. */
export const STEP1X_MODELS_FORMAT = 'step1x-models/1';
/** Written into `qwen-manifest.json`. */
export const QWEN_MODELS_FORMAT = 'qwen25vl-models/1';

export const STEP1X_MANIFEST_FILE = 'manifest.json';
/** Separate from the Step1X `manifest.json`, so both builds can share one folder. */
export const QWEN_MANIFEST_FILE = 'qwen-manifest.json';

export type Step1XGraphName = 'connector' | 'dit' | 'vae_encoder' | 'vae_decoder';
export type QwenGraphName = 'qwen_vision' | 'qwen_llm';
export type GraphName = Step1XGraphName | QwenGraphName;

export const STEP1X_GRAPH_NAMES: readonly Step1XGraphName[] = ['connector', 'dit', 'vae_encoder', 'vae_decoder'];
export const QWEN_GRAPH_NAMES: readonly QwenGraphName[] = ['qwen_vision', 'qwen_llm'];

/** The file each graph is written to, relative to the models folder. */
export function graphFileName(graph: GraphName): string {
  return `${graph}.onnx`;
}

export type TensorDtype = 'float32' | 'int64';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly rank: number;
}

export interface GraphSignature {
  readonly inputs: readonly TensorSpec[];
  /** Outputs every build has; the pipeline reads these. */
  readonly outputs: readonly TensorSpec[];
  /** Outputs only debug builds add (the golden checks read them); allowed, never required. */
  readonly debugOutputs?: readonly TensorSpec[];
}

const f32 = (name: string, rank: number): TensorSpec => ({ name, dtype: 'float32', rank });
const i64 = (name: string, rank: number): TensorSpec => ({ name, dtype: 'int64', rank });

/**
 * Every graph's interface. Names follow the official variable names (docs/MODEL.md §16, §19); shapes are documented beside
 * the graph builders in `libs/model-builder/src/models`.
 */
export const GRAPH_SIGNATURES: Readonly<Record<GraphName, GraphSignature>> = {
  connector: {
    inputs: [f32('llm_embedding', 3), i64('mask', 2), f32('t_vec', 1)],
    outputs: [f32('txt', 3), f32('y', 2)],
  },
  dit: {
    inputs: [f32('img', 3), f32('txt', 3), f32('y', 2), f32('t_vec', 1), f32('pe_cos', 2), f32('pe_sin', 2)],
    outputs: [f32('velocity', 3)],
  },
  vae_encoder: {
    inputs: [f32('image', 4)],
    outputs: [f32('latent', 4), f32('enc_mean', 4), f32('enc_logvar', 4)],
  },
  vae_decoder: {
    inputs: [f32('latent', 4)],
    outputs: [f32('image', 4)],
  },
  qwen_vision: {
    inputs: [
      f32('pixel_values', 2),
      i64('vision_position_ids', 2),
      i64('window_index', 1),
      i64('cu_window_seqlens', 1),
      i64('cu_seqlens', 1),
    ],
    outputs: [f32('image_embeds', 2)],
    debugOutputs: [f32('vision_blocks_out', 2)],
  },
  qwen_llm: {
    inputs: [i64('input_ids', 2), i64('attention_mask', 2), i64('position_ids', 3), f32('image_embeds', 2)],
    outputs: [f32('last_hidden_state', 3)],
    debugOutputs: [f32('inputs_embeds', 3), f32('hidden_after_layer0', 3)],
  },
};

/** Builds store weights in fp32, or fp16 for the DiT/connector linear and conv weights (docs/MODEL.md §4). */
export type ModelPrecision = 'fp32' | 'fp16';
/** Plain attention (explicit softmax) or ONNX Runtime's fused `com.microsoft.MultiHeadAttention`. */
export type AttentionKind = 'plain' | 'fused';

/** sha256 and size of every file the build wrote, relative to the models folder. */
export type FileDigests = Record<string, { sha256: string; bytes: number }>;

/** The size levels the weights support and the one used when a request names none (CONTRACT: `size_level`). */
export interface SizeLevels {
  readonly supported: readonly number[];
  readonly default: number;
}

/** The full Step1X-Edit model's levels; also assumed for a manifest that predates `size_levels`. */
export const FULL_MODEL_SIZE_LEVELS: SizeLevels = { supported: [512, 768, 1024], default: 512 };

/** The Step1X config sections the pipeline reads at run time (the builder's `Step1XConfig` has them all). */
export interface Step1XRuntimeConfig {
  dit: { axes_dim: number[]; theta: number };
  vae: { z_channels: number };
  runtime: {
    max_length: number;
    version: 'v1.0' | 'v1.1';
    cfg_guidance: number;
    timesteps_truncate: number;
    renorm_k: number;
  };
}

/** `manifest.json`: the Step1X graphs (connector, DiT, VAE). `Config` is the builder's full config type. */
export interface Step1XModelsManifest<Config extends Step1XRuntimeConfig = Step1XRuntimeConfig> {
  format: typeof STEP1X_MODELS_FORMAT;
  model_version: string;
  builder_version: string;
  dtype: ModelPrecision;
  attention: AttentionKind;
  config: Config;
  /** Human-readable origin of the weights, e.g. `random (seed 0)` for test models. */
  source: Record<string, string>;
  graphs: Record<Step1XGraphName, string>;
  files: FileDigests;
  /** Absent in manifests written before it existed: `FULL_MODEL_SIZE_LEVELS` then. */
  size_levels?: SizeLevels;
}

/** `qwen-manifest.json`: the Qwen2.5-VL graphs (vision tower, LLM prefill). */
export interface QwenModelsManifest<Config = Record<string, unknown>> {
  format: typeof QWEN_MODELS_FORMAT;
  builder_version: string;
  dtype: ModelPrecision;
  attention: AttentionKind;
  debug_outputs: boolean;
  config: Config;
  source: string;
  graphs: Record<QwenGraphName, string>;
  files: FileDigests;
}
