import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { attention } from '../../nn/attention';
import { Linear } from '../../nn/linear';
import { RmsNorm } from '../../nn/norms';
import { QwenTextConfig } from './qwen-config';
import { causalPaddingBias } from './qwen-masks';
import { applyRotateHalfRope, mropeTables } from './qwen-rope';
import { GatedMlp } from './qwen-mlp';

interface LayerContext {
  readonly cos: Value;
  readonly sin: Value;
  readonly bias: Value;
}

/** `[B, L, heads·D]` → `[B, heads, L, D]`. */
function toHeads(g: GraphBuilder, x: Value, heads: number, headDim: number): Value {
  return g.transpose(g.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/** Grouped-query attention: KV head h serves query heads h·n … h·n+n−1 (transformers' `repeat_kv`). */
function repeatKvHeads(g: GraphBuilder, x: Value, kvHeads: number, groups: number, headDim: number): Value {
  if (groups === 1) return x;
  const expanded = g.expand(g.unsqueeze(x, [2]), g.constInt64([1, 1, groups, 1, 1])); // [B, kv, n, L, D]
  return g.reshape(expanded, [0, kvHeads * groups, -1, headDim]);
}

/** `Qwen2_5_VLDecoderLayer`: pre-norm GQA self-attention with M-RoPE, then a bias-free SwiGLU MLP. */
class DecoderLayer extends Module {
  private readonly inputNorm: RmsNorm;
  private readonly postNorm: RmsNorm;
  private readonly q: Linear;
  private readonly k: Linear;
  private readonly v: Linear;
  private readonly o: Linear;
  private readonly mlp: GatedMlp;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: QwenTextConfig,
  ) {
    super(g, path, options);
    const { hidden_size: h, head_dim: d, num_attention_heads: heads, num_key_value_heads: kv } = cfg;
    this.inputNorm = new RmsNorm(g, this.child('input_layernorm'), options, h, cfg.rms_norm_eps, 'weight');
    this.postNorm = new RmsNorm(g, this.child('post_attention_layernorm'), options, h, cfg.rms_norm_eps, 'weight');
    this.q = new Linear(g, this.child('self_attn.q_proj'), options, h, heads * d, true);
    this.k = new Linear(g, this.child('self_attn.k_proj'), options, h, kv * d, true);
    this.v = new Linear(g, this.child('self_attn.v_proj'), options, h, kv * d, true);
    this.o = new Linear(g, this.child('self_attn.o_proj'), options, heads * d, h, false);
    this.mlp = new GatedMlp(g, this.child('mlp'), options, { hidden: h, intermediate: cfg.intermediate_size }, false);
  }

  forward(x: Value, ctx: LayerContext): Value {
    const g = this.g;
    const { head_dim: d, num_attention_heads: heads, num_key_value_heads: kv } = this.cfg;
    return this.scoped(() => {
      const normed = this.inputNorm.forward(x);
      const q = applyRotateHalfRope(g, toHeads(g, this.q.forward(normed), heads, d), ctx.cos, ctx.sin, d);
      const k = applyRotateHalfRope(g, toHeads(g, this.k.forward(normed), kv, d), ctx.cos, ctx.sin, d);
      const v = toHeads(g, this.v.forward(normed), kv, d);
      const groups = heads / kv;
      const attn = attention(
        g,
        this.options,
        q,
        repeatKvHeads(g, k, kv, groups, d),
        repeatKvHeads(g, v, kv, groups, d),
        heads,
        d,
        ctx.bias,
      );
      const h = g.add(x, this.o.forward(attn));
      return g.add(h, this.mlp.forward(this.postNorm.forward(h)));
    });
  }
}

export interface TextInputs {
  /** `[B, L]` int64. */
  readonly inputIds: Value;
  /** `[B, L]` int64 0/1. */
  readonly attentionMask: Value;
  /** `[3, B, L]` int64 (t, h, w), as `get_rope_index` returns them. */
  readonly positionIds: Value;
  /** `[N, hidden]` float32: the vision tower's output, one row per `<|image_pad|>` token in sequence order. */
  readonly imageEmbeds: Value;
}

export interface TextOutputs {
  readonly inputsEmbeds: Value;
  readonly hiddenAfterLayer0: Value;
  /** After the final RMSNorm (`hidden_states[-1]`). */
  readonly lastHiddenState: Value;
}

/** `Qwen2_5_VLTextModel` under `model.language_model` (hf5 names), prefill only: no KV cache, no lm_head. */
export class QwenTextModel extends Module {
  private readonly embedTokens: Value;
  private readonly layers: DecoderLayer[];
  private readonly norm: RmsNorm;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: QwenTextConfig,
    private readonly imageTokenId: number,
  ) {
    super(g, path, options);
    this.embedTokens = this.weight('embed_tokens.weight', [cfg.vocab_size, cfg.hidden_size]);
    this.layers = Array.from(
      { length: cfg.num_hidden_layers },
      (_, i) => new DecoderLayer(g, this.child(`layers.${i}`), options, cfg),
    );
    this.norm = new RmsNorm(g, this.child('norm'), options, cfg.hidden_size, cfg.rms_norm_eps, 'weight');
  }

  forward(inputs: TextInputs): TextOutputs {
    const g = this.g;
    const cfg = this.cfg;
    return this.scoped(() => {
      const inputsEmbeds = this.embedWithImages(inputs.inputIds, inputs.imageEmbeds);
      const { cos, sin } = mropeTables(g, inputs.positionIds, cfg.head_dim, cfg.rope_theta, cfg.mrope_section);
      const ctx: LayerContext = { cos, sin, bias: causalPaddingBias(g, inputs.attentionMask, this.options) };
      let x = inputsEmbeds;
      let hiddenAfterLayer0 = x;
      this.layers.forEach((layer, i) => {
        x = layer.forward(x, ctx);
        if (i === 0) hiddenAfterLayer0 = x;
      });
      return { inputsEmbeds, hiddenAfterLayer0, lastHiddenState: this.norm.forward(x) };
    });
  }

  /**
   * Token embeddings with the image rows scattered into the `<|image_pad|>` positions in order (transformers'
   * `masked_scatter`): image token number k (1-based, by a running count) takes row k of `[0; imageEmbeds]`, so
   * a prompt without image tokens also works with an empty `imageEmbeds`.
   */
  private embedWithImages(inputIds: Value, imageEmbeds: Value): Value {
    const g = this.g;
    const text = g.cast(g.gather(this.embedTokens, inputIds, 0), 'float32'); // [B, L, hidden]
    const isImage = g.equal(inputIds, g.constInt64([this.imageTokenId], []));
    const runningCount = g.op(
      'CumSum',
      [g.cast(isImage, 'int64'), g.constInt64([1], [])],
      {},
      { outputElemType: 'int64' },
    );
    const row = g.where(isImage, runningCount, g.constInt64([0], []));
    const padded = g.concat(
      [g.constFloat(new Float32Array(this.cfg.hidden_size), [1, this.cfg.hidden_size]), g.cast(imageEmbeds, 'float32')],
      0,
    );
    return g.where(g.unsqueeze(isImage, [-1]), g.gather(padded, row, 0), text);
  }
}
