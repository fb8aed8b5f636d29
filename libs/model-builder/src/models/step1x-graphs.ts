import { GraphBuilder } from '../graph/graph-builder';
import { BuildOptions } from '../graph/module';
import { Qwen2Connector } from './connector/qwen2-connector';
import { Step1XConfig, ditHeadDim } from './config';
import { Decoder, Encoder } from './flux-vae/autoencoder';
import { Step1XEditDiT } from './step1x-dit/step1x-edit-dit';

/**
 * The Step1X-Edit stage graphs. Graph I/O names follow the official variable names and must match
 * `GRAPH_SIGNATURES` of `@step1x/model-format` (checked when a build writes them).
 */
export type { Step1XGraphName } from '@step1x/model-format';

/** connector: llm_embedding `[B,T,in]`, mask `[B,T]` int64, t_vec `[B]` → txt `[B,T,hidden]`, y `[B,pooled]`. */
export function buildConnectorGraph(cfg: Step1XConfig, options: BuildOptions): GraphBuilder {
  const g = new GraphBuilder('connector');
  const c = cfg.connector;
  const llm = g.input('llm_embedding', 'float32', ['batch', 'tokens', c.in_channels]);
  const mask = g.input('mask', 'int64', ['batch', 'tokens']);
  const t = g.input('t_vec', 'float32', ['batch']);
  const connector = new Qwen2Connector(g, 'connector', options, c, cfg.runtime.version === 'v1.0');
  const { txt, y } = connector.forward(llm, mask, t);
  g.output(txt, 'txt', ['batch', 'tokens', c.hidden_size]);
  g.output(y, 'y', ['batch', c.pooled_dim]);
  return g;
}

/**
 * dit: img `[B,S,in]` ([noisy; reference] tokens), txt `[B,T,context]`, y `[B,vec]`, t_vec `[B]`, RoPE tables
 * pe_cos/pe_sin `[T+S, head_dim/2]` → velocity `[B,S,out]`.
 */
export function buildDitGraph(cfg: Step1XConfig, options: BuildOptions): GraphBuilder {
  const g = new GraphBuilder('dit');
  const d = cfg.dit;
  const img = g.input('img', 'float32', ['batch', 'image_tokens', d.in_channels]);
  const txt = g.input('txt', 'float32', ['batch', 'tokens', d.context_in_dim]);
  const y = g.input('y', 'float32', ['batch', d.vec_in_dim]);
  const t = g.input('t_vec', 'float32', ['batch']);
  const cos = g.input('pe_cos', 'float32', ['sequence', ditHeadDim(d) / 2]);
  const sin = g.input('pe_sin', 'float32', ['sequence', ditHeadDim(d) / 2]);
  const velocity = new Step1XEditDiT(g, options, d).forward(img, txt, y, t, { cos, sin });
  g.output(velocity, 'velocity', ['batch', 'image_tokens', d.out_channels]);
  return g;
}

/** vae_encoder: image `[B,3,H,W]` in [−1,1] → latent = scale·(mean − shift), plus the raw moments. */
export function buildVaeEncoderGraph(cfg: Step1XConfig, options: BuildOptions): GraphBuilder {
  const g = new GraphBuilder('vae_encoder');
  const v = cfg.vae;
  const image = g.input('image', 'float32', ['batch', v.in_channels, 'height', 'width']);
  const moments = new Encoder(g, 'encoder', vaeOptions(options), v).forward(image);
  const [mean, logvar] = g.split(moments, 1, [v.z_channels, v.z_channels]);
  const latent = g.mul(g.sub(mean, g.constFloat([v.shift_factor], [])), g.constFloat([v.scale_factor], []));
  const latentShape = ['batch', v.z_channels, 'latent_height', 'latent_width'];
  g.output(latent, 'latent', latentShape);
  g.output(mean, 'enc_mean', latentShape);
  g.output(logvar, 'enc_logvar', latentShape);
  return g;
}

/** vae_decoder: latent `[B,z,h,w]` (scaled) → image `[B,3,8h,8w]`, unclamped. */
export function buildVaeDecoderGraph(cfg: Step1XConfig, options: BuildOptions): GraphBuilder {
  const g = new GraphBuilder('vae_decoder');
  const v = cfg.vae;
  const latent = g.input('latent', 'float32', ['batch', v.z_channels, 'latent_height', 'latent_width']);
  const z = g.add(g.div(latent, g.constFloat([v.scale_factor], [])), g.constFloat([v.shift_factor], []));
  const image = new Decoder(g, 'decoder', vaeOptions(options), v).forward(z);
  g.output(image, 'image', ['batch', v.out_ch, 'height', 'width']);
  return g;
}

/** The VAE is small (84 M params) and sensitive; it always runs in float32 (docs/MODEL.md §4). */
function vaeOptions(options: BuildOptions): BuildOptions {
  return { precision: 'fp32', attention: options.attention };
}
