import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { attention, splitQkv } from '../../nn/attention';
import { Linear } from '../../nn/linear';
import { RmsNorm } from '../../nn/norms';
import { QwenVisionConfig, visionPatchFeatures } from './qwen-config';
import { GatedMlp } from './qwen-mlp';
import { rangeOfDim, segmentBias } from './qwen-masks';
import { applyRotateHalfRope, visionRopeTables } from './qwen-rope';

/** What every vision block shares: the rotary tables and the two attention biases (windowed and full). */
interface VisionContext {
  readonly cos: Value;
  readonly sin: Value;
  readonly windowBias: Value;
  readonly fullBias: Value;
}

class VisionBlock extends Module {
  private readonly norm1: RmsNorm;
  private readonly norm2: RmsNorm;
  private readonly qkv: Linear;
  private readonly proj: Linear;
  private readonly mlp: GatedMlp;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: QwenVisionConfig,
    readonly fullAttention: boolean,
  ) {
    super(g, path, options);
    const h = cfg.hidden_size;
    this.norm1 = new RmsNorm(g, this.child('norm1'), options, h, cfg.rms_norm_eps, 'weight');
    this.norm2 = new RmsNorm(g, this.child('norm2'), options, h, cfg.rms_norm_eps, 'weight');
    this.qkv = new Linear(g, this.child('attn.qkv'), options, h, 3 * h);
    this.proj = new Linear(g, this.child('attn.proj'), options, h, h);
    this.mlp = new GatedMlp(g, this.child('mlp'), options, { hidden: h, intermediate: cfg.intermediate_size }, true);
  }

  /** x `[1, P, hidden]` in window order. */
  forward(x: Value, ctx: VisionContext): Value {
    const g = this.g;
    const { num_heads: heads, head_dim: headDim } = this.cfg;
    return this.scoped(() => {
      const [q, k, v] = splitQkv(g, this.qkv.forward(this.norm1.forward(x)), heads, headDim);
      const qr = applyRotateHalfRope(g, q, ctx.cos, ctx.sin, headDim);
      const kr = applyRotateHalfRope(g, k, ctx.cos, ctx.sin, headDim);
      const bias = this.fullAttention ? ctx.fullBias : ctx.windowBias;
      const h = g.add(x, this.proj.forward(attention(g, this.options, qr, kr, v, heads, headDim, bias)));
      return g.add(h, this.mlp.forward(this.norm2.forward(h)));
    });
  }
}

/** `Qwen2_5_VLPatchMerger`: RMSNorm, 2×2 neighbours concatenated, Linear → exact GELU → Linear. */
class PatchMerger extends Module {
  private readonly lnQ: RmsNorm;
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  private readonly mergedWidth: number;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, cfg: QwenVisionConfig) {
    super(g, path, options);
    this.mergedWidth = cfg.hidden_size * cfg.spatial_merge_size * cfg.spatial_merge_size;
    this.lnQ = new RmsNorm(g, this.child('ln_q'), options, cfg.hidden_size, cfg.rms_norm_eps, 'weight');
    this.fc1 = new Linear(g, this.child('mlp.0'), options, this.mergedWidth, this.mergedWidth);
    this.fc2 = new Linear(g, this.child('mlp.2'), options, this.mergedWidth, cfg.out_hidden_size);
  }

  /** `[1, P, hidden]` → `[P/merge², out_hidden]`. */
  forward(x: Value): Value {
    return this.scoped(() => {
      const grouped = this.g.reshape(this.lnQ.forward(x), [-1, this.mergedWidth]);
      return this.fc2.forward(this.g.gelu(this.fc1.forward(grouped), 'none'));
    });
  }
}

export interface VisionInputs {
  /** `[P, C·T·patch²]` float32, rows in the processor's merge-block-major order. */
  readonly pixelValues: Value;
  /** `[P, 2]` int64 (h, w) patch coordinates, same row order. */
  readonly positionIds: Value;
  /** `[P/merge²]` int64: window-ordered row k is merged token `windowIndex[k]`. */
  readonly windowIndex: Value;
  /** Window boundaries in window-ordered patch rows, int64. */
  readonly cuWindowSeqlens: Value;
  /** Image/frame boundaries, int64 (the full-attention blocks). */
  readonly cuSeqlens: Value;
}

/**
 * `Qwen2_5_VisionTransformerPretrainedModel` under `model.visual` (hf5 names): Conv3d patch embed as a MatMul on
 * the flattened patches, window reordering, blocks, merger, original order restored.
 */
export class QwenVisionTower extends Module {
  private readonly patchWeight: Value;
  private readonly blocks: VisionBlock[];
  private readonly merger: PatchMerger;
  private readonly mergeUnit: number;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly cfg: QwenVisionConfig,
  ) {
    super(g, path, options);
    const p = cfg.patch_size;
    this.patchWeight = this.weight('patch_embed.proj.weight', [
      cfg.hidden_size,
      cfg.in_channels,
      cfg.temporal_patch_size,
      p,
      p,
    ]);
    const full = new Set(cfg.fullatt_block_indexes);
    this.blocks = Array.from(
      { length: cfg.depth },
      (_, i) => new VisionBlock(g, this.child(`blocks.${i}`), options, cfg, full.has(i)),
    );
    this.merger = new PatchMerger(g, this.child('merger'), options, cfg);
    this.mergeUnit = cfg.spatial_merge_size * cfg.spatial_merge_size;
  }

  /** → image embeddings `[P/merge², out_hidden]` in the original token order, and the last block's output. */
  forward(inputs: VisionInputs): { imageEmbeds: Value; blocksOut: Value } {
    const g = this.g;
    const cfg = this.cfg;
    return this.scoped(() => {
      // A stride-equal Conv3d over one patch is a dot product with the flattened kernel, whose (C, T, ph, pw)
      // order matches each pixel_values row.
      const kernel = g.reshape(this.patchWeight, [cfg.hidden_size, visionPatchFeatures(cfg)]);
      const patches = g.cast(g.matmulTransB(g.cast(inputs.pixelValues, this.computeType), kernel), 'float32');
      const x0 = g.unsqueeze(this.toWindowOrder(patches, cfg.hidden_size, inputs.windowIndex), [0]); // [1, P, hidden]
      const { cos, sin } = visionRopeTables(
        g,
        this.toWindowOrder(inputs.positionIds, 2, inputs.windowIndex),
        cfg.head_dim,
        cfg.rope_theta,
      );
      const ctx: VisionContext = {
        cos,
        sin,
        windowBias: segmentBias(g, x0, inputs.cuWindowSeqlens, this.options),
        fullBias: segmentBias(g, x0, inputs.cuSeqlens, this.options),
      };
      let x = x0;
      for (const block of this.blocks) x = block.forward(x, ctx);
      const merged = this.merger.forward(x); // window order
      const imageEmbeds = g.gather(merged, this.inversePermutation(inputs.windowIndex), 0);
      return { imageEmbeds, blocksOut: g.squeeze(x, [0]) };
    });
  }

  /** Rows `[P, width]` regrouped by merge unit and gathered in window order. */
  private toWindowOrder(rows: Value, width: number, windowIndex: Value): Value {
    const grouped = this.g.reshape(rows, [-1, this.mergeUnit, width]);
    return this.g.reshape(this.g.gather(grouped, windowIndex, 0), [-1, width]);
  }

  /** argsort of a permutation: out[perm[k]] = k. */
  private inversePermutation(perm: Value): Value {
    const g = this.g;
    const ks = rangeOfDim(g, perm, 0);
    return g.op('ScatterElements', [ks, perm, ks], { axis: 0 }, { outputElemType: 'int64' });
  }
}
