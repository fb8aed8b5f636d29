import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { attention } from '../../nn/attention';
import { GroupNorm } from '../../nn/norms';
import { VaeConfig } from '../config';

const GN_GROUPS = 32;
const GN_EPS = 1e-6;

/** torch.nn.Conv2d with `weight [out, in, k, k]` and bias. */
class Conv2d extends Module {
  private readonly w: Value;
  private readonly b: Value;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    inCh: number,
    outCh: number,
    private readonly kernel: number,
    private readonly stride = 1,
    private readonly padding = Math.floor(kernel / 2),
  ) {
    super(g, path, options);
    this.w = this.weight('weight', [outCh, inCh, kernel, kernel]);
    this.b = this.weight('bias', [outCh]);
  }

  forward(x: Value): Value {
    return this.scoped(() => {
      const p = this.padding;
      const y = this.g.conv(this.g.cast(x, this.computeType), this.w, this.b, {
        kernel: this.kernel,
        stride: this.stride,
        pads: [p, p, p, p],
      });
      return this.g.cast(y, 'float32');
    });
  }
}

class ResnetBlock extends Module {
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly norm2: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, inCh: number, outCh: number) {
    super(g, path, options);
    this.norm1 = new GroupNorm(g, this.child('norm1'), options, GN_GROUPS, inCh, GN_EPS);
    this.conv1 = new Conv2d(g, this.child('conv1'), options, inCh, outCh, 3);
    this.norm2 = new GroupNorm(g, this.child('norm2'), options, GN_GROUPS, outCh, GN_EPS);
    this.conv2 = new Conv2d(g, this.child('conv2'), options, outCh, outCh, 3);
    this.shortcut = inCh !== outCh ? new Conv2d(g, this.child('nin_shortcut'), options, inCh, outCh, 1) : null;
  }

  forward(x: Value): Value {
    const g = this.g;
    let h = this.conv1.forward(g.silu(this.norm1.forward(x)));
    h = this.conv2.forward(g.silu(this.norm2.forward(h)));
    return g.add(this.shortcut ? this.shortcut.forward(x) : x, h);
  }
}

/** Single-head self-attention over all H·W positions, with 1×1 convolutions as projections. */
class AttnBlock extends Module {
  private readonly norm: GroupNorm;
  private readonly q: Conv2d;
  private readonly k: Conv2d;
  private readonly v: Conv2d;
  private readonly projOut: Conv2d;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly channels: number,
  ) {
    super(g, path, options);
    this.norm = new GroupNorm(g, this.child('norm'), options, GN_GROUPS, channels, GN_EPS);
    this.q = new Conv2d(g, this.child('q'), options, channels, channels, 1);
    this.k = new Conv2d(g, this.child('k'), options, channels, channels, 1);
    this.v = new Conv2d(g, this.child('v'), options, channels, channels, 1);
    this.projOut = new Conv2d(g, this.child('proj_out'), options, channels, channels, 1);
  }

  forward(x: Value): Value {
    const g = this.g;
    const h = this.norm.forward(x);
    const shape = g.shape(x);
    // [B, C, H, W] → [B, 1, H·W, C]: one head over every spatial position.
    const toSeq = (t: Value) => g.unsqueeze(g.transpose(g.reshape(t, [0, 0, -1]), [0, 2, 1]), [1]);
    const attn = attention(
      g,
      this.options,
      toSeq(this.q.forward(h)),
      toSeq(this.k.forward(h)),
      toSeq(this.v.forward(h)),
      1,
      this.channels,
    );
    const back = g.reshapeDynamic(g.transpose(attn, [0, 2, 1]), shape);
    return g.add(x, this.projOut.forward(back));
  }
}

class Downsample extends Module {
  private readonly conv: Conv2d;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, channels: number) {
    super(g, path, options);
    this.conv = new Conv2d(g, this.child('conv'), options, channels, channels, 3, 2, 0);
  }

  /** Asymmetric padding (right and bottom by one) before a stride-2 conv, as the official module. */
  forward(x: Value): Value {
    return this.conv.forward(this.g.pad(x, [0, 0, 0, 0, 0, 0, 1, 1]));
  }
}

class Upsample extends Module {
  private readonly conv: Conv2d;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, channels: number) {
    super(g, path, options);
    this.conv = new Conv2d(g, this.child('conv'), options, channels, channels, 3);
  }

  forward(x: Value): Value {
    return this.conv.forward(this.g.upsampleNearest(x, 2));
  }
}

class MidBlock {
  readonly block1: ResnetBlock;
  readonly attn1: AttnBlock;
  readonly block2: ResnetBlock;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, channels: number) {
    this.block1 = new ResnetBlock(g, `${path}.block_1`, options, channels, channels);
    this.attn1 = new AttnBlock(g, `${path}.attn_1`, options, channels);
    this.block2 = new ResnetBlock(g, `${path}.block_2`, options, channels, channels);
  }

  forward(x: Value): Value {
    return this.block2.forward(this.attn1.forward(this.block1.forward(x)));
  }
}

/** FLUX AE encoder: image `[B, 3, H, W]` in [−1, 1] → moments `[B, 2·z, H/8, W/8]` (mean, then logvar). */
export class Encoder extends Module {
  private readonly convIn: Conv2d;
  private readonly levels: { blocks: ResnetBlock[]; downsample: Downsample | null }[] = [];
  private readonly mid: MidBlock;
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, cfg: VaeConfig) {
    super(g, path, options);
    this.convIn = new Conv2d(g, this.child('conv_in'), options, cfg.in_channels, cfg.ch, 3);
    const mult = [1, ...cfg.ch_mult];
    let blockIn = cfg.ch;
    for (let i = 0; i < cfg.ch_mult.length; i++) {
      const blockOut = cfg.ch * cfg.ch_mult[i];
      blockIn = cfg.ch * mult[i];
      const blocks: ResnetBlock[] = [];
      for (let j = 0; j < cfg.num_res_blocks; j++) {
        blocks.push(new ResnetBlock(g, this.child(`down.${i}.block.${j}`), options, blockIn, blockOut));
        blockIn = blockOut;
      }
      const last = i === cfg.ch_mult.length - 1;
      this.levels.push({
        blocks,
        downsample: last ? null : new Downsample(g, this.child(`down.${i}.downsample`), options, blockIn),
      });
    }
    this.mid = new MidBlock(g, this.child('mid'), options, blockIn);
    this.normOut = new GroupNorm(g, this.child('norm_out'), options, GN_GROUPS, blockIn, GN_EPS);
    this.convOut = new Conv2d(g, this.child('conv_out'), options, blockIn, 2 * cfg.z_channels, 3);
  }

  forward(x: Value): Value {
    return this.scoped(() => {
      let h = this.convIn.forward(x);
      for (const level of this.levels) {
        for (const block of level.blocks) h = block.forward(h);
        if (level.downsample) h = level.downsample.forward(h);
      }
      h = this.mid.forward(h);
      return this.convOut.forward(this.g.silu(this.normOut.forward(h)));
    });
  }
}

/** FLUX AE decoder: z `[B, z, h, w]` (unscaled) → image `[B, 3, 8h, 8w]`, unclamped. */
export class Decoder extends Module {
  private readonly convIn: Conv2d;
  private readonly mid: MidBlock;
  /** Indexed by level as in the checkpoint (`up.{level}`); run from the deepest level up. */
  private readonly levels: { blocks: ResnetBlock[]; upsample: Upsample | null }[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, cfg: VaeConfig) {
    super(g, path, options);
    const n = cfg.ch_mult.length;
    let blockIn = cfg.ch * cfg.ch_mult[n - 1];
    this.convIn = new Conv2d(g, this.child('conv_in'), options, cfg.z_channels, blockIn, 3);
    this.mid = new MidBlock(g, this.child('mid'), options, blockIn);
    for (let i = n - 1; i >= 0; i--) {
      const blockOut = cfg.ch * cfg.ch_mult[i];
      const blocks: ResnetBlock[] = [];
      for (let j = 0; j < cfg.num_res_blocks + 1; j++) {
        blocks.push(new ResnetBlock(g, this.child(`up.${i}.block.${j}`), options, blockIn, blockOut));
        blockIn = blockOut;
      }
      this.levels[i] = {
        blocks,
        upsample: i === 0 ? null : new Upsample(g, this.child(`up.${i}.upsample`), options, blockIn),
      };
    }
    this.normOut = new GroupNorm(g, this.child('norm_out'), options, GN_GROUPS, blockIn, GN_EPS);
    this.convOut = new Conv2d(g, this.child('conv_out'), options, blockIn, cfg.out_ch, 3);
  }

  forward(z: Value): Value {
    return this.scoped(() => {
      let h = this.mid.forward(this.convIn.forward(z));
      for (let i = this.levels.length - 1; i >= 0; i--) {
        for (const block of this.levels[i].blocks) h = block.forward(h);
        const up = this.levels[i].upsample;
        if (up) h = up.forward(h);
      }
      return this.convOut.forward(this.g.silu(this.normOut.forward(h)));
    });
  }
}
