import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namedQwenConfig } from '../../build/tiny-qwen-models';
import { QwenConfigError, normaliseQwenConfig } from './qwen-config';
import qwen7bFlat from '../../configs/qwen2_5_vl-7b.json';
import tinyNested from '../../configs/qwen2_5_vl-tiny.json';

type Json = Record<string, unknown>;

const TEXT_KEYS = [
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'intermediate_size',
  'vocab_size',
  'rms_norm_eps',
  'hidden_act',
];

/** The flat published config rewritten in transformers 5.x's nested layout (what `to_json_string` writes). */
function toNested5x(flat: Json): Json {
  const text: Json = { model_type: 'qwen2_5_vl_text' };
  for (const k of TEXT_KEYS) text[k] = flat[k];
  const scaling = flat.rope_scaling as Json;
  text.rope_parameters = { rope_type: 'default', rope_theta: flat.rope_theta, mrope_section: scaling.mrope_section };
  const v = { ...(flat.vision_config as Json) };
  v.in_channels = v.in_chans;
  delete v.in_chans;
  delete v.spatial_patch_size;
  v.rope_parameters = { rope_type: 'axial', rope_theta: 10000 };
  return {
    model_type: 'qwen2_5_vl',
    image_token_id: flat.image_token_id,
    video_token_id: flat.video_token_id,
    vision_start_token_id: flat.vision_start_token_id,
    vision_end_token_id: flat.vision_end_token_id,
    text_config: text,
    vision_config: v,
  };
}

/** transformers 4.5x's nested layout: `text_config` with `rope_theta` and `rope_scaling`. */
function toNested4x(flat: Json): Json {
  const nested = toNested5x(flat);
  const text = { ...(nested.text_config as Json) };
  delete text.rope_parameters;
  text.rope_theta = flat.rope_theta;
  text.rope_scaling = { type: 'mrope', rope_type: 'default', mrope_section: (flat.rope_scaling as Json).mrope_section };
  return { ...nested, text_config: text };
}

function expectConfigError(raw: unknown, pattern: RegExp): void {
  assert.throws(
    () => normaliseQwenConfig(raw),
    (err: unknown) => err instanceof QwenConfigError && err.code === 'invalid_qwen_config' && pattern.test(err.message),
  );
}

describe('normaliseQwenConfig', () => {
  it('reads the published flat 7B config (top-level rope_theta, rope_scaling.mrope_section, in_chans)', () => {
    const c = normaliseQwenConfig(qwen7bFlat);
    assert.deepEqual(c.text, {
      hidden_size: 3584,
      num_hidden_layers: 28,
      num_attention_heads: 28,
      num_key_value_heads: 4,
      head_dim: 128,
      intermediate_size: 18944,
      vocab_size: 152064,
      rms_norm_eps: 1e-6,
      rope_theta: 1e6,
      mrope_section: [16, 24, 24],
    });
    assert.deepEqual(c.vision, {
      depth: 32,
      hidden_size: 1280,
      num_heads: 16,
      head_dim: 80,
      intermediate_size: 3420,
      out_hidden_size: 3584,
      in_channels: 3,
      patch_size: 14,
      temporal_patch_size: 2,
      spatial_merge_size: 2,
      window_size: 112,
      fullatt_block_indexes: [7, 15, 23, 31],
      rope_theta: 10000,
      rms_norm_eps: 1e-6,
    });
    assert.equal(c.image_token_id, 151655);
    assert.equal(c.vision_start_token_id, 151652);
  });

  it('gives the same internal config for the flat, the 4.5x nested and the 5.x nested layouts', () => {
    const flat = normaliseQwenConfig(qwen7bFlat);
    assert.deepEqual(normaliseQwenConfig(toNested5x(qwen7bFlat)), flat);
    assert.deepEqual(normaliseQwenConfig(toNested4x(qwen7bFlat)), flat);
  });

  it('reads the tiny golden config (nested, rope_parameters) as the golden README describes it', () => {
    const c = normaliseQwenConfig(tinyNested);
    assert.equal(c.text.hidden_size, 64);
    assert.equal(c.text.num_attention_heads, 4);
    assert.equal(c.text.num_key_value_heads, 2);
    assert.equal(c.text.head_dim, 16);
    assert.deepEqual(c.text.mrope_section, [2, 3, 3]);
    assert.equal(c.text.rope_theta, 1e6);
    assert.equal(c.vision.head_dim, 16);
    assert.deepEqual(c.vision.fullatt_block_indexes, [1]);
    assert.equal(c.vision.out_hidden_size, 64);
    assert.deepEqual(namedQwenConfig('tiny'), c);
    assert.deepEqual(namedQwenConfig('7b'), normaliseQwenConfig(qwen7bFlat));
  });

  it('refuses configs the graphs cannot honour, naming the field', () => {
    const flat = qwen7bFlat as Json;
    expectConfigError({ ...flat, rope_scaling: { type: 'mrope', mrope_section: [16, 24, 23] } }, /mrope_section/);
    expectConfigError({ ...flat, rope_scaling: { type: 'yarn', mrope_section: [16, 24, 24] } }, /yarn/);
    expectConfigError({ ...flat, hidden_act: 'gelu' }, /hidden_act/);
    expectConfigError({ ...flat, num_key_value_heads: 5 }, /kv heads/);
    expectConfigError({ ...flat, vision_config: undefined }, /vision_config/);
    expectConfigError({ ...flat, model_type: 'qwen2_vl' }, /model_type/);
    const vision = flat.vision_config as Json;
    expectConfigError({ ...flat, vision_config: { ...vision, fullatt_block_indexes: [7, 32] } }, /fullatt/);
    expectConfigError({ ...flat, vision_config: { ...vision, out_hidden_size: 4096 } }, /out_hidden_size/);
    expectConfigError({ ...flat, vision_config: { ...vision, window_size: 100 } }, /window_size/);
  });
});
