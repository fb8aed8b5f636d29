import type { QwenGraphName } from '@step1x/model-format';
import { GraphBuilder } from '../../graph/graph-builder';
import { BuildOptions } from '../../graph/module';
import { QwenConfig, visionPatchFeatures } from './qwen-config';
import { QwenTextModel } from './qwen-text';
import { QwenVisionTower } from './qwen-vision';

/** The two Qwen2.5-VL graphs; parameters carry transformers 5.x (hf5) names; I/O as `@step1x/model-format` says. */
export type { QwenGraphName } from '@step1x/model-format';

export const QWEN_VISION_PREFIX = 'model.visual';
export const QWEN_TEXT_PREFIX = 'model.language_model';

export interface QwenGraphOptions {
  /**
   * Also output the intermediate tensors the qwen25vl-tiny goldens store: `vision_blocks_out` (window order),
   * `inputs_embeds` and `hidden_after_layer0`. @defaultValue false
   */
  readonly debugOutputs?: boolean;
}

/**
 * qwen_vision: pixel_values `[P, C·T·p²]` f32, vision_position_ids `[P, 2]` i64, window_index `[P/m²]` i64,
 * cu_window_seqlens `[W+1]` i64, cu_seqlens `[F+1]` i64 → image_embeds `[P/m², out_hidden]` f32 in token order
 * (+ vision_blocks_out `[P, hidden]` in window order with debug outputs).
 */
export function buildQwenVisionGraph(
  cfg: QwenConfig,
  options: BuildOptions,
  graphOptions: QwenGraphOptions = {},
): GraphBuilder {
  const g = new GraphBuilder('qwen_vision');
  const v = cfg.vision;
  const tower = new QwenVisionTower(g, QWEN_VISION_PREFIX, options, v);
  const { imageEmbeds, blocksOut } = tower.forward({
    pixelValues: g.input('pixel_values', 'float32', ['patches', visionPatchFeatures(v)]),
    positionIds: g.input('vision_position_ids', 'int64', ['patches', 2]),
    windowIndex: g.input('window_index', 'int64', ['merged_tokens']),
    cuWindowSeqlens: g.input('cu_window_seqlens', 'int64', ['window_boundaries']),
    cuSeqlens: g.input('cu_seqlens', 'int64', ['frame_boundaries']),
  });
  g.output(imageEmbeds, 'image_embeds', ['merged_tokens', v.out_hidden_size]);
  if (graphOptions.debugOutputs) g.output(blocksOut, 'vision_blocks_out', ['patches', v.hidden_size]);
  return g;
}

/**
 * qwen_llm (prefill): input_ids `[B, L]` i64, attention_mask `[B, L]` i64, position_ids `[3, B, L]` i64,
 * image_embeds `[N, hidden]` f32 (N = number of `<|image_pad|>` tokens) → last_hidden_state `[B, L, hidden]` after
 * the final norm (+ inputs_embeds and hidden_after_layer0 with debug outputs).
 */
export function buildQwenLlmGraph(
  cfg: QwenConfig,
  options: BuildOptions,
  graphOptions: QwenGraphOptions = {},
): GraphBuilder {
  const g = new GraphBuilder('qwen_llm');
  const t = cfg.text;
  const model = new QwenTextModel(g, QWEN_TEXT_PREFIX, options, t, cfg.image_token_id);
  const out = model.forward({
    inputIds: g.input('input_ids', 'int64', ['batch', 'tokens']),
    attentionMask: g.input('attention_mask', 'int64', ['batch', 'tokens']),
    positionIds: g.input('position_ids', 'int64', [3, 'batch', 'tokens']),
    imageEmbeds: g.input('image_embeds', 'float32', ['image_tokens', t.hidden_size]),
  });
  const shape = ['batch', 'tokens', t.hidden_size];
  g.output(out.lastHiddenState, 'last_hidden_state', shape);
  if (graphOptions.debugOutputs) {
    g.output(out.inputsEmbeds, 'inputs_embeds', shape);
    g.output(out.hiddenAfterLayer0, 'hidden_after_layer0', shape);
  }
  return g;
}

export function buildQwenGraphs(
  cfg: QwenConfig,
  options: BuildOptions,
  graphOptions: QwenGraphOptions = {},
): Record<QwenGraphName, GraphBuilder> {
  return {
    qwen_vision: buildQwenVisionGraph(cfg, options, graphOptions),
    qwen_llm: buildQwenLlmGraph(cfg, options, graphOptions),
  };
}

/** name → shape of every parameter of both graphs: what a Qwen checkpoint must hold exactly (lm_head aside). */
export function qwenParameterTable(cfg: QwenConfig, options: BuildOptions): Map<string, readonly number[]> {
  const table = new Map<string, readonly number[]>();
  for (const g of Object.values(buildQwenGraphs(cfg, options)))
    for (const p of g.parameters.values()) table.set(p.name, p.shape);
  return table;
}
