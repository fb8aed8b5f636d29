import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BuildOptions,
  ConfigName,
  DEFAULT_TINY_SEED,
  ModelsManifest,
  Checkpoint,
  buildQwenModels,
  buildRandomModels,
  TINY_MODEL_SIZE_LEVELS,
  buildRandomQwenModels,
  namedQwenConfig,
  normaliseQwenConfig,
  openQwenCheckpoint,
  qwenParameterTable,
  buildStep1XModels,
  namedConfig,
} from '@step1x/model-builder';
import { UsageError } from './golden.command';
import { writeLatentPreviewMap } from './models-fit-preview.command';

export const MODELS_BUILD_USAGE = `step1x models build --config tiny|full --out <dir>
      [--dit <dit.safetensors> --vae <vae.safetensors>] [--qwen <Qwen2.5-VL-7B-Instruct dir>]
      [--dtype fp32|fp16] [--attention plain|fused] [--seed N]
  Writes the ONNX graphs (connector, dit, vae_encoder, vae_decoder + manifest.json; qwen_vision, qwen_llm +
  qwen-manifest.json and the tokenizer files) into one folder that \`step1x edit --models\` takes. Without weight
  files it builds random tiny models from --seed. Defaults: tiny → fp32, full → fp16; fused attention.`;

/** Files of the Qwen2.5-VL folder the pipeline reads besides the weights (tokenizer, chat template, processor). */
const QWEN_SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'chat_template.json',
  'chat_template.jinja',
  'preprocessor_config.json',
];

export async function modelsBuildCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      dit: { type: 'string' },
      vae: { type: 'string' },
      qwen: { type: 'string' },
      out: { type: 'string' },
      dtype: { type: 'string' },
      attention: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const configName = values.config;
  if (configName !== 'tiny' && configName !== 'full')
    throw new UsageError(`--config must be tiny or full\n${MODELS_BUILD_USAGE}`);
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
      manifest = await buildStep1XModels({
        config,
        ditWeights: dit,
        vaeWeights: vae,
        outDir,
        options,
        source: { dit: values.dit, vae: values.vae },
        sizeLevels: configName === 'tiny' ? TINY_MODEL_SIZE_LEVELS : undefined,
      });
    } finally {
      dit.close();
      vae.close();
    }
  } else {
    if (configName !== 'tiny')
      throw new UsageError('random weights are only for --config tiny; pass --dit and --vae for full size');
    manifest = await buildRandomModels(config, outDir, seedOf(values.seed), options);
  }
  if (values.qwen) await buildQwenFromDirectory(resolve(values.qwen), outDir, options);
  else if (configName === 'tiny')
    await buildRandomQwenModels(namedQwenConfig('tiny'), outDir, seedOf(values.seed), options);
  else
    console.log('note: no --qwen given, so the folder has no MLLM graphs; build them with --qwen before `step1x edit`');
  // The step previews' latent→RGB map, fitted on this folder's VAE (docs/ARCHITECTURE.md "Live events and previews").
  await writeLatentPreviewMap(outDir);
  const files = readdirSync(outDir);
  const bytes = files.reduce((a, f) => a + statSync(join(outDir, f)).size, 0);
  console.log(
    `wrote ${files.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) to ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `model ${manifest.model_version}, ${manifest.dtype}, ${manifest.attention} attention, builder ${manifest.builder_version}`,
  );
  return 0;
}

function buildOptions(config: ConfigName, dtype: string | undefined, attention: string | undefined): BuildOptions {
  const precision = dtype ?? (config === 'full' ? 'fp16' : 'fp32');
  const attn = attention ?? 'fused';
  if (precision !== 'fp32' && precision !== 'fp16') throw new UsageError('--dtype must be fp32 or fp16');
  if (attn !== 'plain' && attn !== 'fused') throw new UsageError('--attention must be plain or fused');
  return { precision, attention: attn };
}

function seedOf(raw: string | undefined): number {
  const seed = raw === undefined ? DEFAULT_TINY_SEED : Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  return seed;
}

/** Qwen2.5-VL from its published folder: config.json, safetensors (single or sharded), tokenizer files. */
async function buildQwenFromDirectory(dir: string, outDir: string, options: BuildOptions): Promise<void> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new UsageError(`${configPath} not found: --qwen takes the Qwen2.5-VL-7B-Instruct folder`);
  const config = normaliseQwenConfig(JSON.parse(readFileSync(configPath, 'utf8')));
  const weights = openQwenCheckpoint(dir, qwenParameterTable(config, options));
  try {
    await buildQwenModels({ config, weights, outDir, options, source: dir });
  } finally {
    weights.close();
  }
  for (const file of QWEN_SIDE_FILES)
    if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(outDir, file));
}
