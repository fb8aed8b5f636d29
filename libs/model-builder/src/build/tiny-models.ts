import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATENT_PREVIEW_FILE, STEP1X_MANIFEST_FILE, SizeLevels } from '@step1x/model-format';
import { workspaceRoot } from '@step1x/tensors';
import { BuildOptions, DEFAULT_BUILD_OPTIONS } from '../graph/module';
import { Step1XConfig, parseStep1XConfig } from '../models/config';
import { InMemoryWeights } from '../export/weight-provider';
import { DEFAULT_TINY_SEED, randomStateDict } from '../weights/random-init';
import { buildOnce, readJsonFile } from './build-once';
import { builderFingerprint } from './builder-fingerprint';
import { ModelsManifest, buildStep1XModels, step1xParameterTables } from './build-step1x';
import { QWEN_MANIFEST_FILE, QwenModelsManifest } from './build-qwen';
import { buildRandomQwenModels, namedQwenConfig } from './tiny-qwen-models';
import tinyConfig from '../configs/step1x-tiny.json';
import fullConfig from '../configs/step1x-full.json';
// Fitted on the default-seed tiny VAE by `step1x models fit-preview` (the random weights are a function of the
// seed); test/integration/pipeline/latent-preview.int-spec.ts refits it and checks it still fits.
import tinyLatentPreview from '../configs/step1x-tiny.latent-preview.json';

export type ConfigName = 'tiny' | 'full';

/**
 * The tiny models are scaffolding (tests, local mode), so they accept small levels too: the worker's warm-up and the
 * fast tests run at 64, while the API's levels (512/768/1024) keep working.
 */
export const TINY_MODEL_SIZE_LEVELS: SizeLevels = { supported: [64, 128, 256, 512, 768, 1024], default: 512 };

export function namedConfig(name: ConfigName): Step1XConfig {
  return parseStep1XConfig(structuredClone(name === 'tiny' ? tinyConfig : fullConfig));
}

function inMemory(tensors: Map<string, Float32Array>, table: ReadonlyMap<string, readonly number[]>): InMemoryWeights {
  return new InMemoryWeights(
    new Map([...tensors].map(([name, values]) => [name, { shape: table.get(name)!, values }])),
  );
}

/**
 * Builds models with random weights (docs/MODEL.md §5) into `outDir`: every parameter drawn, including the modulation
 * layers the official code zero-initialises, so outputs depend on every input.
 */
export async function buildRandomModels(
  config: Step1XConfig,
  outDir: string,
  seed: number,
  options: BuildOptions,
  sizeLevels: SizeLevels = TINY_MODEL_SIZE_LEVELS,
): Promise<ModelsManifest> {
  const tables = step1xParameterTables(config, options);
  return buildStep1XModels({
    config,
    ditWeights: inMemory(randomStateDict(tables.dit, seed), tables.dit),
    vaeWeights: inMemory(randomStateDict(tables.vae, seed), tables.vae),
    outDir,
    options,
    source: { dit: `random (seed ${seed})`, vae: `random (seed ${seed})` },
    externalData: false,
    sizeLevels,
  });
}

export interface TinyModels {
  readonly modelsDir: string;
  /** Step1X graphs: connector, DiT, VAE (`manifest.json`). */
  readonly manifest: ModelsManifest;
  /** Qwen2.5-VL graphs: vision tower, LLM (`qwen-manifest.json`). */
  readonly qwenManifest: QwenModelsManifest;
}

/**
 * Every model of the pipeline with tiny random weights, in one folder that `Step1XEditPipeline.load` takes: used by
 * tests, the CLI and the embedded default. Built once and cached under `.cache/models/` by the builder's
 * fingerprint (its compiled code) + configs + seed + options.
 */
export async function ensureTinyModels(
  seed: number = DEFAULT_TINY_SEED,
  options: BuildOptions = DEFAULT_BUILD_OPTIONS,
  cacheRoot: string = join(workspaceRoot(), '.cache', 'models'),
): Promise<TinyModels> {
  const config = namedConfig('tiny');
  const qwenConfig = namedQwenConfig('tiny');
  const key = createHash('sha256')
    .update(
      JSON.stringify({ builder: builderFingerprint(), config, qwenConfig, seed, options, TINY_MODEL_SIZE_LEVELS }),
    )
    .digest('hex')
    .slice(0, 16);
  const modelsDir = join(cacheRoot, `tiny-${key}`);
  await buildOnce(modelsDir, [STEP1X_MANIFEST_FILE, QWEN_MANIFEST_FILE], async (outDir) => {
    await buildRandomModels(config, outDir, seed, options);
    await buildRandomQwenModels(qwenConfig, outDir, seed, options);
    if (seed === DEFAULT_TINY_SEED) writeFileSync(join(outDir, LATENT_PREVIEW_FILE), JSON.stringify(tinyLatentPreview));
  });
  return {
    modelsDir,
    manifest: readJsonFile<ModelsManifest>(join(modelsDir, STEP1X_MANIFEST_FILE)),
    qwenManifest: readJsonFile<QwenModelsManifest>(join(modelsDir, QWEN_MANIFEST_FILE)),
  };
}
