/**
 * One internal Qwen2.5-VL config, normalised from either config.json layout (docs/MODEL.md §7):
 * - the published flat one: text fields at the top level, `rope_theta` at the top, `rope_scaling.mrope_section`,
 *   vision `in_chans` / `spatial_patch_size`;
 * - transformers' nested one: `text_config` (5.x: `rope_parameters.{rope_theta, mrope_section}`; 4.5x:
 *   `rope_theta` + `rope_scaling`), vision `in_channels`, `patch_size`, `rope_parameters.rope_theta`.
 * Field names follow transformers' spelling (snake_case), as our other model configs do.
 */

export interface QwenTextConfig {
  readonly hidden_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly intermediate_size: number;
  readonly vocab_size: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  /** Frequency ranges of the t, h and w position axes; sums to head_dim / 2. */
  readonly mrope_section: readonly [number, number, number];
}

export interface QwenVisionConfig {
  readonly depth: number;
  readonly hidden_size: number;
  readonly num_heads: number;
  readonly head_dim: number;
  readonly intermediate_size: number;
  readonly out_hidden_size: number;
  readonly in_channels: number;
  readonly patch_size: number;
  readonly temporal_patch_size: number;
  readonly spatial_merge_size: number;
  /** Window side in pixels. */
  readonly window_size: number;
  /** Blocks that attend over the whole image; the others attend within windows. */
  readonly fullatt_block_indexes: readonly number[];
  readonly rope_theta: number;
  /** transformers hard-codes 1e-6 for every vision RMSNorm (blocks and merger). */
  readonly rms_norm_eps: number;
}

export interface QwenConfig {
  readonly text: QwenTextConfig;
  readonly vision: QwenVisionConfig;
  readonly image_token_id: number;
  readonly video_token_id: number;
  readonly vision_start_token_id: number;
  readonly vision_end_token_id: number;
}

export class QwenConfigError extends Error {
  readonly code = 'invalid_qwen_config';
  constructor(message: string) {
    super(`Qwen2.5-VL config: ${message}`);
    this.name = 'QwenConfigError';
  }
}

type Json = Record<string, unknown>;

const VISION_RMS_EPS = 1e-6;
const DEFAULT_VISION_ROPE_THETA = 10000;
/** Rope types whose inverse frequencies are the plain θ^(−2i/d) this port implements. */
const PLAIN_ROPE_TYPES = new Set(['default', 'mrope', 'axial']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first defined value of `key` among `sources`. */
function pick(sources: readonly (Json | undefined)[], key: string): unknown {
  for (const s of sources) if (s && s[key] !== undefined && s[key] !== null) return s[key];
  return undefined;
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new QwenConfigError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new QwenConfigError(`${what} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function intList(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
    throw new QwenConfigError(`${what} must be a list of non-negative integers, got ${JSON.stringify(value)}`);
  }
  return value as number[];
}

function checkActivation(value: unknown, what: string): void {
  if (value !== undefined && value !== 'silu') {
    throw new QwenConfigError(`${what} is ${JSON.stringify(value)}; Qwen2.5-VL uses silu (the only one built)`);
  }
}

function checkRopeType(rope: Json | undefined, what: string): void {
  const type = rope ? (rope.rope_type ?? rope.type) : undefined;
  if (type !== undefined && !PLAIN_ROPE_TYPES.has(String(type))) {
    throw new QwenConfigError(`${what} rope type ${JSON.stringify(type)} is not supported`);
  }
}

function normaliseText(raw: Json): QwenTextConfig {
  const nested = isObject(raw.text_config) ? raw.text_config : undefined;
  // Nested configs may still carry some text fields at the top level (4.5x wrote both); the nested one wins.
  const sources = [nested, raw];
  const ropeParameters = pick(sources, 'rope_parameters');
  const ropeScaling = pick(sources, 'rope_scaling');
  const rope = [isObject(ropeParameters) ? ropeParameters : undefined, isObject(ropeScaling) ? ropeScaling : undefined];
  checkRopeType(rope[0], 'text');
  checkRopeType(rope[1], 'text');
  checkActivation(pick(sources, 'hidden_act'), 'text hidden_act');

  const hidden = positiveInt(pick(sources, 'hidden_size'), 'text hidden_size');
  const heads = positiveInt(pick(sources, 'num_attention_heads'), 'text num_attention_heads');
  const kvHeads = positiveInt(pick(sources, 'num_key_value_heads') ?? heads, 'text num_key_value_heads');
  const headDim = positiveInt(pick(sources, 'head_dim') ?? hidden / heads, 'text head_dim');
  if (headDim * heads !== hidden)
    throw new QwenConfigError(`text heads ${heads} × head_dim ${headDim} ≠ hidden ${hidden}`);
  if (heads % kvHeads !== 0) throw new QwenConfigError(`text heads ${heads} is not a multiple of kv heads ${kvHeads}`);
  if (headDim % 2 !== 0) throw new QwenConfigError(`text head_dim ${headDim} must be even (rotate-half RoPE)`);

  const section = intList(pick(rope, 'mrope_section'), 'text mrope_section');
  if (section.length !== 3 || section[0] + section[1] + section[2] !== headDim / 2) {
    throw new QwenConfigError(
      `mrope_section ${JSON.stringify(section)} must be 3 sizes summing to head_dim/2 = ${headDim / 2}`,
    );
  }
  return {
    hidden_size: hidden,
    num_hidden_layers: positiveInt(pick(sources, 'num_hidden_layers'), 'text num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: positiveInt(pick(sources, 'intermediate_size'), 'text intermediate_size'),
    vocab_size: positiveInt(pick(sources, 'vocab_size'), 'text vocab_size'),
    rms_norm_eps: positiveNumber(pick(sources, 'rms_norm_eps'), 'text rms_norm_eps'),
    rope_theta: positiveNumber(pick([rope[0], ...sources, rope[1]], 'rope_theta'), 'text rope_theta'),
    mrope_section: [section[0], section[1], section[2]],
  };
}

function normaliseVision(raw: Json): QwenVisionConfig {
  if (!isObject(raw.vision_config)) throw new QwenConfigError('vision_config is missing');
  const v = raw.vision_config;
  checkActivation(v.hidden_act, 'vision hidden_act');
  const ropeParameters = isObject(v.rope_parameters) ? v.rope_parameters : undefined;
  checkRopeType(ropeParameters, 'vision');

  const hidden = positiveInt(v.hidden_size ?? v.embed_dim, 'vision hidden_size');
  const heads = positiveInt(v.num_heads, 'vision num_heads');
  const headDim = hidden / heads;
  // The 2-D RoPE gives head_dim/4 frequencies to each of h and w.
  if (!Number.isInteger(headDim) || headDim % 4 !== 0) {
    throw new QwenConfigError(`vision hidden ${hidden} / heads ${heads} must be a multiple of 4`);
  }
  const depth = positiveInt(v.depth, 'vision depth');
  const patch = positiveInt(v.patch_size ?? v.spatial_patch_size, 'vision patch_size');
  const merge = positiveInt(v.spatial_merge_size, 'vision spatial_merge_size');
  const window = positiveInt(v.window_size, 'vision window_size');
  if (window % (patch * merge) !== 0)
    throw new QwenConfigError(`vision window_size ${window} is not a multiple of ${patch * merge}`);
  const fullAttention = intList(v.fullatt_block_indexes ?? [], 'vision fullatt_block_indexes');
  if (fullAttention.some((i) => i >= depth))
    throw new QwenConfigError(`fullatt_block_indexes ${JSON.stringify(fullAttention)} exceed depth ${depth}`);
  return {
    depth,
    hidden_size: hidden,
    num_heads: heads,
    head_dim: headDim,
    intermediate_size: positiveInt(v.intermediate_size, 'vision intermediate_size'),
    out_hidden_size: positiveInt(v.out_hidden_size, 'vision out_hidden_size'),
    in_channels: positiveInt(v.in_channels ?? v.in_chans ?? 3, 'vision in_channels'),
    patch_size: patch,
    temporal_patch_size: positiveInt(v.temporal_patch_size, 'vision temporal_patch_size'),
    spatial_merge_size: merge,
    window_size: window,
    fullatt_block_indexes: fullAttention,
    rope_theta: positiveNumber(
      ropeParameters?.rope_theta ?? v.rope_theta ?? DEFAULT_VISION_ROPE_THETA,
      'vision rope_theta',
    ),
    rms_norm_eps: VISION_RMS_EPS,
  };
}

/** Reads a Qwen2.5-VL config.json object (flat published or nested transformers layout) into a QwenConfig. */
export function normaliseQwenConfig(raw: unknown): QwenConfig {
  if (!isObject(raw)) throw new QwenConfigError('not a JSON object');
  const modelType = raw.model_type;
  if (modelType !== undefined && modelType !== 'qwen2_5_vl') {
    throw new QwenConfigError(`model_type is ${JSON.stringify(modelType)}, expected "qwen2_5_vl"`);
  }
  const text = normaliseText(raw);
  const vision = normaliseVision(raw);
  if (vision.out_hidden_size !== text.hidden_size) {
    throw new QwenConfigError(
      `vision out_hidden_size ${vision.out_hidden_size} ≠ text hidden_size ${text.hidden_size}`,
    );
  }
  const tokenId = (key: string, fallback: number) => positiveInt(raw[key] ?? fallback, key);
  return {
    text,
    vision,
    image_token_id: tokenId('image_token_id', 151655),
    video_token_id: tokenId('video_token_id', 151656),
    vision_start_token_id: tokenId('vision_start_token_id', 151652),
    vision_end_token_id: tokenId('vision_end_token_id', 151653),
  };
}

/** Merged tokens per window side: window_size / (patch · merge). */

/** Values per flattened patch row: channels · temporal_patch · patch² (1176 for Qwen2.5-VL). */
export function visionPatchFeatures(v: QwenVisionConfig): number {
  return v.in_channels * v.temporal_patch_size * v.patch_size * v.patch_size;
}
