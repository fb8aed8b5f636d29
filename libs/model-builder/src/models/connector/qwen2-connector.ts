import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { attention, splitQkv, timestepEmbedding } from '../../nn/attention';
import { Linear, MlpEmbedder } from '../../nn/linear';
import { LayerNorm } from '../../nn/norms';
import { ConnectorConfig } from '../config';

/** Float32's lowest value: an additive mask entry that makes a key's softmax weight exactly zero. */
const MASKED = -3.4028234663852886e38;

/** One refiner block: gated self-attention and a gated SiLU MLP, both driven by the conditioning vector c. */
class IndividualTokenRefinerBlock extends Module {
  private readonly norm1: LayerNorm;
  private readonly norm2: LayerNorm;
  private readonly qkv: Linear;
  private readonly proj: Linear;
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  private readonly modulation: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: ConnectorConfig,
  ) {
    super(g, path, options);
    const h = cfg.hidden_size;
    const mlp = Math.round(h * cfg.mlp_width_ratio);
    this.norm1 = new LayerNorm(g, this.child('norm1'), options, h, cfg.layernorm_eps, true);
    this.qkv = new Linear(g, this.child('self_attn_qkv'), options, h, 3 * h, cfg.qkv_bias);
    this.proj = new Linear(g, this.child('self_attn_proj'), options, h, h);
    this.norm2 = new LayerNorm(g, this.child('norm2'), options, h, cfg.layernorm_eps, true);
    this.fc1 = new Linear(g, this.child('mlp.fc1'), options, h, mlp);
    this.fc2 = new Linear(g, this.child('mlp.fc2'), options, mlp, h);
    this.modulation = new Linear(g, this.child('adaLN_modulation.1'), options, h, 2 * h);
  }

  forward(x: Value, c: Value, maskBias: Value): Value {
    const g = this.g;
    const [gateAttn, gateMlp] = g
      .split(this.modulation.forward(g.silu(c)), 1, [this.cfg.hidden_size, this.cfg.hidden_size])
      .map((gate) => g.unsqueeze(gate, [1]));
    const [q, k, v] = splitQkv(g, this.qkv.forward(this.norm1.forward(x)), this.cfg.heads_num, this.cfg.head_dim);
    const attn = attention(g, this.options, q, k, v, this.cfg.heads_num, this.cfg.head_dim, maskBias);
    let h = g.add(x, g.mul(gateAttn, this.proj.forward(attn)));
    const mlp = this.fc2.forward(g.silu(this.fc1.forward(this.norm2.forward(h))));
    h = g.add(h, g.mul(gateMlp, mlp));
    return h;
  }
}

/**
 * `Qwen2Connector`: refines the MLLM's hidden states into the DiT's text stream (SingleTokenRefiner, conditioned on
 * t and the masked mean) and pools them into the DiT's vector input. It depends on t, so it runs every step.
 */
export class Qwen2Connector extends Module {
  private readonly globalProjOut: Linear;
  private readonly tEmbedder: MlpEmbedder;
  private readonly cEmbedder: MlpEmbedder;
  private readonly inputEmbedder: Linear;
  private readonly blocks: IndividualTokenRefinerBlock[];
  private readonly scaleFactor: Value | null;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: ConnectorConfig,
    withScaleFactor: boolean,
  ) {
    super(g, path, options);
    const h = cfg.hidden_size;
    this.globalProjOut = new Linear(g, this.child('global_proj_out'), options, cfg.in_channels, cfg.pooled_dim);
    this.scaleFactor = withScaleFactor ? this.vector('scale_factor', [1]) : null;
    const s = this.child('S');
    this.tEmbedder = new MlpEmbedder(g, `${s}.t_embedder.mlp`, options, { in: cfg.t_freq_dim, hidden: h }, ['0', '2']);
    this.cEmbedder = new MlpEmbedder(g, `${s}.c_embedder`, options, { in: cfg.in_channels, hidden: h }, [
      'linear_1',
      'linear_2',
    ]);
    this.inputEmbedder = new Linear(g, `${s}.input_embedder`, options, cfg.in_channels, h);
    this.blocks = Array.from(
      { length: cfg.depth },
      (_, i) => new IndividualTokenRefinerBlock(g, `${s}.individual_token_refiner.blocks.${i}`, options, cfg),
    );
  }

  /** llm_embedding `[B, T, in]`, mask `[B, T]` int64 0/1, t `[B]` in [0, 1] → txt `[B, T, hidden]`, y `[B, pooled]`. */
  forward(llmEmbedding: Value, mask: Value, t: Value): { txt: Value; y: Value } {
    const g = this.g;
    return this.scoped(() => {
      const m = g.cast(mask, 'float32');
      const m3 = g.unsqueeze(m, [2]);
      const meanIn = g.div(g.reduceSum(g.mul(llmEmbedding, m3), [1], false), g.reduceSum(m3, [1], false));
      const pooledIn = this.scaleFactor ? g.mul(meanIn, g.add(g.constFloat([1], []), this.scaleFactor)) : meanIn;
      const y = this.globalProjOut.forward(pooledIn);

      const tEmb = this.tEmbedder.forward(timestepEmbedding(g, t, this.cfg.t_freq_dim, this.cfg.time_factor));
      const c = g.add(tEmb, this.cEmbedder.forward(meanIn));
      let h = this.inputEmbedder.forward(llmEmbedding);
      const bias = this.attentionBias(m);
      for (const block of this.blocks) h = block.forward(h, c, bias);
      return { txt: h, y };
    });
  }

  /** Query i may attend key j when both are valid; key 0 is always allowed, so padded queries attend only to it. */
  private attentionBias(m: Value): Value {
    const g = this.g;
    const pair = g.mul(g.unsqueeze(m, [2]), g.unsqueeze(m, [1])); // [B, T, T]
    const first = g.slice(pair, 2, 0, 1);
    const ones = g.add(g.mul(first, g.constFloat([0], [])), g.constFloat([1], []));
    const allowed = g.concat([ones, g.slice(pair, 2, 1, Number.MAX_SAFE_INTEGER)], 2);
    const bias = g.mul(g.sub(g.constFloat([1], []), allowed), g.constFloat([MASKED], []));
    return g.unsqueeze(bias, [1]); // [B, 1, T, T]
  }
}
