import { GraphBuilder, Value } from '../../graph/graph-builder';
import { BuildOptions, Module } from '../../graph/module';
import { applyInterleavedRope, attention, splitQkv } from '../../nn/attention';
import { Linear } from '../../nn/linear';
import { LayerNorm, RmsNorm } from '../../nn/norms';

const LN_EPS = 1e-6;

export interface RopeTables {
  cos: Value;
  sin: Value;
}

interface ModulationOut {
  shift: Value;
  scale: Value;
  gate: Value;
}

/** `Modulation`: Linear(SiLU(vec)) chunked into (shift, scale, gate) ×1 or ×2, each `[B, 1, H]`, float32. */
class Modulation extends Module {
  private readonly lin: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly dim: number,
    private readonly double: boolean,
  ) {
    super(g, path, options);
    this.lin = new Linear(g, this.child('lin'), options, dim, (double ? 6 : 3) * dim);
  }

  forward(vec: Value): ModulationOut[] {
    const g = this.g;
    const n = this.double ? 6 : 3;
    const chunks = g
      .split(this.lin.forward(g.silu(vec)), 1, new Array<number>(n).fill(this.dim))
      .map((c) => g.unsqueeze(c, [1]));
    const out: ModulationOut[] = [{ shift: chunks[0], scale: chunks[1], gate: chunks[2] }];
    if (this.double) out.push({ shift: chunks[3], scale: chunks[4], gate: chunks[5] });
    return out;
  }
}

/** (1 + scale)·x + shift, float32. */
function modulate(g: GraphBuilder, x: Value, m: ModulationOut): Value {
  return g.add(g.mul(g.add(g.constFloat([1], []), m.scale), x), m.shift);
}

/** `QKNorm`: RMSNorm over head_dim with learnable `scale`, separately for q and k. */
class QkNorm extends Module {
  private readonly queryNorm: RmsNorm;
  private readonly keyNorm: RmsNorm;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, headDim: number) {
    super(g, path, options);
    this.queryNorm = new RmsNorm(g, this.child('query_norm'), options, headDim, LN_EPS);
    this.keyNorm = new RmsNorm(g, this.child('key_norm'), options, headDim, LN_EPS);
  }

  forward(q: Value, k: Value): [Value, Value] {
    return [this.queryNorm.forward(q), this.keyNorm.forward(k)];
  }
}

/** The attention half of a stream in a double block: fused qkv projection, QK norm, output projection. */
class SelfAttention extends Module {
  readonly qkv: Linear;
  readonly norm: QkNorm;
  readonly proj: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly d: BlockDims,
  ) {
    super(g, path, options);
    this.qkv = new Linear(g, this.child('qkv'), options, d.hidden, 3 * d.hidden, d.qkvBias);
    this.norm = new QkNorm(g, this.child('norm'), options, d.headDim);
    this.proj = new Linear(g, this.child('proj'), options, d.hidden, d.hidden);
  }

  /** Projects and normalises; returns q, k, v `[B, H, L, D]`. */
  project(x: Value): [Value, Value, Value] {
    const [q, k, v] = splitQkv(this.g, this.qkv.forward(x), this.d.heads, this.d.headDim);
    const [qn, kn] = this.norm.forward(q, k);
    return [qn, kn, v];
  }
}

/** FLUX MLP: Linear → GELU(tanh) → Linear, as `*_mlp.0` and `*_mlp.2`. */
class GeluMlp extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear;

  constructor(g: GraphBuilder, path: string, options: BuildOptions, dim: number, hidden: number) {
    super(g, path, options);
    this.fc1 = new Linear(g, this.child(0), options, dim, hidden);
    this.fc2 = new Linear(g, this.child(2), options, hidden, dim);
  }

  forward(x: Value): Value {
    return this.fc2.forward(this.g.gelu(this.fc1.forward(x), 'tanh'));
  }
}

export interface BlockDims {
  hidden: number;
  heads: number;
  headDim: number;
  mlpHidden: number;
  qkvBias: boolean;
}

/** Joint attention over [txt; img] with separate weights per stream. */
export class DoubleStreamBlock extends Module {
  private readonly mods: { img: Modulation; txt: Modulation };
  private readonly norms1: { img: LayerNorm; txt: LayerNorm };
  private readonly attns: { img: SelfAttention; txt: SelfAttention };
  private readonly norms2: { img: LayerNorm; txt: LayerNorm };
  private readonly mlps: { img: GeluMlp; txt: GeluMlp };

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly d: BlockDims,
  ) {
    super(g, path, options);
    const make = <T>(f: (s: 'img' | 'txt') => T) => ({ img: f('img'), txt: f('txt') });
    this.mods = make((s) => new Modulation(g, this.child(`${s}_mod`), options, d.hidden, true));
    this.norms1 = make((s) => new LayerNorm(g, this.child(`${s}_norm1`), options, d.hidden, LN_EPS, false));
    this.attns = make((s) => new SelfAttention(g, this.child(`${s}_attn`), options, d));
    this.norms2 = make((s) => new LayerNorm(g, this.child(`${s}_norm2`), options, d.hidden, LN_EPS, false));
    this.mlps = make((s) => new GeluMlp(g, this.child(`${s}_mlp`), options, d.hidden, d.mlpHidden));
  }

  forward(img: Value, txt: Value, vec: Value, rope: RopeTables, txtLen: Value): { img: Value; txt: Value } {
    const g = this.g;
    return this.scoped(() => {
      const [imgMod1, imgMod2] = this.mods.img.forward(vec);
      const [txtMod1, txtMod2] = this.mods.txt.forward(vec);
      const [iq, ik, iv] = this.attns.img.project(modulate(g, this.norms1.img.forward(img), imgMod1));
      const [tq, tk, tv] = this.attns.txt.project(modulate(g, this.norms1.txt.forward(txt), txtMod1));
      const q = applyInterleavedRope(g, g.concat([tq, iq], 2), rope.cos, rope.sin, this.d.headDim);
      const k = applyInterleavedRope(g, g.concat([tk, ik], 2), rope.cos, rope.sin, this.d.headDim);
      const v = g.concat([tv, iv], 2);
      const attn = attention(g, this.options, q, k, v, this.d.heads, this.d.headDim);
      const txtAttn = g.sliceDynamic(attn, 1, g.constInt64([0]), txtLen);
      const imgAttn = g.sliceDynamic(attn, 1, txtLen, g.constInt64([Number.MAX_SAFE_INTEGER]));

      let imgOut = g.add(img, g.mul(imgMod1.gate, this.attns.img.proj.forward(imgAttn)));
      imgOut = g.add(
        imgOut,
        g.mul(imgMod2.gate, this.mlps.img.forward(modulate(g, this.norms2.img.forward(imgOut), imgMod2))),
      );
      let txtOut = g.add(txt, g.mul(txtMod1.gate, this.attns.txt.proj.forward(txtAttn)));
      txtOut = g.add(
        txtOut,
        g.mul(txtMod2.gate, this.mlps.txt.forward(modulate(g, this.norms2.txt.forward(txtOut), txtMod2))),
      );
      return { img: imgOut, txt: txtOut };
    });
  }
}

/** Parallel attention + MLP on the joined sequence, one fused input projection (`linear1`) and one output (`linear2`). */
export class SingleStreamBlock extends Module {
  private readonly modulation: Modulation;
  private readonly preNorm: LayerNorm;
  private readonly linear1: Linear;
  private readonly linear2: Linear;
  private readonly norm: QkNorm;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly d: BlockDims,
  ) {
    super(g, path, options);
    this.modulation = new Modulation(g, this.child('modulation'), options, d.hidden, false);
    this.preNorm = new LayerNorm(g, this.child('pre_norm'), options, d.hidden, LN_EPS, false);
    this.linear1 = new Linear(g, this.child('linear1'), options, d.hidden, 3 * d.hidden + d.mlpHidden);
    this.linear2 = new Linear(g, this.child('linear2'), options, d.hidden + d.mlpHidden, d.hidden);
    this.norm = new QkNorm(g, this.child('norm'), options, d.headDim);
  }

  forward(x: Value, vec: Value, rope: RopeTables): Value {
    const g = this.g;
    return this.scoped(() => {
      const [mod] = this.modulation.forward(vec);
      const [qkv, mlp] = g.split(this.linear1.forward(modulate(g, this.preNorm.forward(x), mod)), 2, [
        3 * this.d.hidden,
        this.d.mlpHidden,
      ]);
      const [q, k, v] = splitQkv(g, qkv, this.d.heads, this.d.headDim);
      const [qn, kn] = this.norm.forward(q, k);
      const attn = attention(
        g,
        this.options,
        applyInterleavedRope(g, qn, rope.cos, rope.sin, this.d.headDim),
        applyInterleavedRope(g, kn, rope.cos, rope.sin, this.d.headDim),
        v,
        this.d.heads,
        this.d.headDim,
      );
      const out = this.linear2.forward(g.concat([attn, g.gelu(mlp, 'tanh')], 2));
      return g.add(x, g.mul(mod.gate, out));
    });
  }
}

/** `LastLayer`: adaLN (shift first, then scale) and the output projection to patch channels. */
export class LastLayer extends Module {
  private readonly norm: LayerNorm;
  private readonly adaLN: Linear;
  private readonly linear: Linear;

  constructor(
    g: GraphBuilder,
    path: string,
    options: BuildOptions,
    private readonly hidden: number,
    outChannels: number,
  ) {
    super(g, path, options);
    this.norm = new LayerNorm(g, this.child('norm_final'), options, hidden, LN_EPS, false);
    this.adaLN = new Linear(g, this.child('adaLN_modulation.1'), options, hidden, 2 * hidden);
    this.linear = new Linear(g, this.child('linear'), options, hidden, outChannels);
  }

  forward(x: Value, vec: Value): Value {
    const g = this.g;
    return this.scoped(() => {
      const [shift, scale] = g
        .split(this.adaLN.forward(g.silu(vec)), 1, [this.hidden, this.hidden])
        .map((c) => g.unsqueeze(c, [1]));
      return this.linear.forward(modulate(g, this.norm.forward(x), { shift, scale, gate: shift }));
    });
  }
}
