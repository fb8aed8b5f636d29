/** Model configs as the golden sets and our config files write them (snake_case, as in the official code). */

export interface ConnectorConfig {
  in_channels: number;
  hidden_size: number;
  heads_num: number;
  head_dim: number;
  depth: number;
  mlp_width_ratio: number;
  pooled_dim: number;
  t_freq_dim: number;
  time_factor: number;
  qkv_bias: boolean;
  layernorm_eps: number;
}

export interface DitConfig {
  in_channels: number;
  out_channels: number;
  vec_in_dim: number;
  context_in_dim: number;
  hidden_size: number;
  mlp_ratio: number;
  num_heads: number;
  depth: number;
  depth_single_blocks: number;
  axes_dim: number[];
  theta: number;
  qkv_bias: boolean;
  t_freq_dim: number;
  time_factor: number;
}

export interface VaeConfig {
  resolution: number;
  in_channels: number;
  ch: number;
  out_ch: number;
  ch_mult: number[];
  num_res_blocks: number;
  z_channels: number;
  scale_factor: number;
  shift_factor: number;
}

export interface RuntimeConfig {
  max_length: number;
  version: 'v1.0' | 'v1.1';
  cfg_guidance: number;
  timesteps_truncate: number;
  renorm_k: number;
  num_steps: number;
}

export interface Step1XConfig {
  connector: ConnectorConfig;
  dit: DitConfig;
  vae: VaeConfig;
  runtime: RuntimeConfig;
}

export function ditHeadDim(c: DitConfig): number {
  return c.hidden_size / c.num_heads;
}

/** Reads a config object (e.g. a golden set's config.json) and checks the fields the builders rely on. */
export function parseStep1XConfig(raw: unknown): Step1XConfig {
  const c = raw as Step1XConfig;
  for (const section of ['connector', 'dit', 'vae', 'runtime'] as const) {
    if (!c || typeof c[section] !== 'object') throw new Error(`config: missing section "${section}"`);
  }
  const headDim = ditHeadDim(c.dit);
  const axesSum = c.dit.axes_dim.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(headDim) || axesSum !== headDim) {
    throw new Error(`config: dit axes_dim sums to ${axesSum}, head dim is ${headDim}`);
  }
  if (c.connector.heads_num * c.connector.head_dim !== c.connector.hidden_size) {
    throw new Error('config: connector heads_num × head_dim must equal hidden_size');
  }
  if (c.dit.context_in_dim !== c.connector.hidden_size || c.dit.vec_in_dim !== c.connector.pooled_dim) {
    throw new Error('config: dit context/vec dims must match the connector hidden/pooled dims');
  }
  if (c.runtime.version !== 'v1.0' && c.runtime.version !== 'v1.1') {
    throw new Error(`config: unsupported runtime.version ${String(c.runtime.version)}`);
  }
  return c;
}
