import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BuildOptions,
  ConfigName,
  DEFAULT_TINY_SEED,
  ModelsManifest,
  Checkpoint,
  buildRandomModels,
  buildStep1XModels,
  namedConfig,
} from '@step1x/model-builder';
import { UsageError } from './golden.command';

export const MODELS_BUILD_USAGE = `step1x models build --config tiny|full [--dit <dit.safetensors> --vae <vae.safetensors>] --out <dir>
      [--dtype fp32|fp16] [--attention plain|fused] [--seed N]
  Writes the ONNX graphs (connector, dit, vae_encoder, vae_decoder) and manifest.json. Without weight files it
  builds random tiny models from --seed. Defaults: tiny → fp32 + plain attention; full → fp16 + fused attention.`;

export async function modelsBuildCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      dit: { type: 'string' },
      vae: { type: 'string' },
      out: { type: 'string' },
      dtype: { type: 'string' },
      attention: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const configName = values.config;
  if (configName !== 'tiny' && configName !== 'full') throw new UsageError(`--config must be tiny or full\n${MODELS_BUILD_USAGE}`);
  if (!values.out) throw new UsageError(`--out is required\n${MODELS_BUILD_USAGE}`);
  const options = buildOptions(configName, values.dtype, values.attention);
  const config = namedConfig(configName);
  const outDir = resolve(values.out);
  const started = Date.now();
  let manifest: ModelsManifest;
  if (values.dit || values.vae) {
    if (!values.dit || !values.vae) throw new UsageError('--dit and --vae go together');
    const dit = Checkpoint.open(resolve(values.dit));
    const vae = Checkpoint.open(resolve(values.vae));
    try {
      manifest = await buildStep1XModels({ config, ditWeights: dit, vaeWeights: vae, outDir, options, source: { dit: values.dit, vae: values.vae } });
    } finally {
      dit.close();
      vae.close();
    }
  } else {
    if (configName !== 'tiny') throw new UsageError('random weights are only for --config tiny; pass --dit and --vae for full size');
    const seed = values.seed === undefined ? DEFAULT_TINY_SEED : Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
    manifest = await buildRandomModels(config, outDir, seed, options);
  }
  const bytes = Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0);
  console.log(`wrote ${Object.keys(manifest.files).length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) to ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`model ${manifest.model_version}, ${manifest.dtype}, ${manifest.attention} attention, builder ${manifest.builder_version}`);
  return 0;
}

function buildOptions(config: ConfigName, dtype: string | undefined, attention: string | undefined): BuildOptions {
  const precision = dtype ?? (config === 'full' ? 'fp16' : 'fp32');
  const attn = attention ?? (config === 'full' ? 'fused' : 'plain');
  if (precision !== 'fp32' && precision !== 'fp16') throw new UsageError('--dtype must be fp32 or fp16');
  if (attn !== 'plain' && attn !== 'fused') throw new UsageError('--attention must be plain or fused');
  return { precision, attention: attn };
}
