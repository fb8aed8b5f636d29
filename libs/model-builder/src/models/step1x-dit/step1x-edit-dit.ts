import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { timestepEmbedding } from '../../nn/attention';
import { Linear, MlpEmbedder } from '../../nn/linear';
import { DitConfig, ditHeadDim } from '../config';
import { BlockDims, DoubleStreamBlock, LastLayer, RopeTables, SingleStreamBlock } from './blocks';

/**
 * `Step1XEdit` without its connector (that is its own graph, see Qwen2Connector): the FLUX.1-dev layout minus
 * guidance_in. Image tokens are [noisy; reference] along the sequence; text comes first inside attention.
 */
export class Step1XEditDiT extends Module {
  private readonly imgIn: Linear;
  private readonly timeIn: MlpEmbedder;
  private readonly vectorIn: MlpEmbedder;
  private readonly txtIn: Linear;
  private readonly doubleBlocks: DoubleStreamBlock[];
  private readonly singleBlocks: SingleStreamBlock[];
  private readonly finalLayer: LastLayer;

  constructor(
    g: GraphBuilder,
    options: BuildOptions,
    private readonly cfg: DitConfig,
  ) {
    super(g, '', options);
    const h = cfg.hidden_size;
    const dims: BlockDims = {
      hidden: h,
      heads: cfg.num_heads,
      headDim: ditHeadDim(cfg),
      mlpHidden: Math.round(h * cfg.mlp_ratio),
      qkvBias: cfg.qkv_bias,
    };
    this.imgIn = new Linear(g, 'img_in', options, cfg.in_channels, h);
    this.timeIn = new MlpEmbedder(g, 'time_in', options, { in: cfg.t_freq_dim, hidden: h });
    this.vectorIn = new MlpEmbedder(g, 'vector_in', options, { in: cfg.vec_in_dim, hidden: h });
    this.txtIn = new Linear(g, 'txt_in', options, cfg.context_in_dim, h);
    this.doubleBlocks = Array.from(
      { length: cfg.depth },
      (_, i) => new DoubleStreamBlock(g, `double_blocks.${i}`, options, dims),
    );
    this.singleBlocks = Array.from(
      { length: cfg.depth_single_blocks },
      (_, i) => new SingleStreamBlock(g, `single_blocks.${i}`, options, dims),
    );
    this.finalLayer = new LastLayer(g, 'final_layer', options, h, cfg.out_channels);
  }

  /**
   * img `[B, S, in]`, txt `[B, T, context]` (connector output), y `[B, vec]`, t `[B]`, RoPE tables `[T+S, D/2]`
   * → velocity for every image token `[B, S, out]`.
   */
  forward(img: Value, txt: Value, y: Value, t: Value, rope: RopeTables): Value {
    const g = this.g;
    const vec = g.add(
      this.timeIn.forward(timestepEmbedding(g, t, this.cfg.t_freq_dim, this.cfg.time_factor)),
      this.vectorIn.forward(y),
    );
    let imgH = this.imgIn.forward(img);
    let txtH = this.txtIn.forward(txt);
    const txtLen = g.shape(txtH, 1, 2);
    for (const block of this.doubleBlocks) ({ img: imgH, txt: txtH } = block.forward(imgH, txtH, vec, rope, txtLen));
    let x = g.concat([txtH, imgH], 1);
    for (const block of this.singleBlocks) x = block.forward(x, vec, rope);
    const imgOut = g.sliceDynamic(x, 1, txtLen, g.constInt64([Number.MAX_SAFE_INTEGER]));
    return this.finalLayer.forward(imgOut, vec);
  }
}
