import { BuildOptions } from '../graph/module';
import { InMemoryWeights } from '../export/weight-provider';
import { QwenConfig, normaliseQwenConfig } from '../models/qwen2_5_vl/qwen-config';
import { qwenParameterTable } from '../models/qwen2_5_vl/qwen-graphs';
import { randomStateDict } from '../weights/random-init';
import { QwenModelsManifest, buildQwenModels } from './build-qwen';
import { ensureTinyModels } from './tiny-models';
import tinyQwenConfig from '../configs/qwen2_5_vl-tiny.json';
import qwen7bConfig from '../configs/qwen2_5_vl-7b.json';

export type QwenConfigName = 'tiny' | '7b';

/** `tiny` = the qwen25vl-tiny golden's config (transformers' nested layout); `7b` = Qwen2.5-VL-7B-Instruct (flat). */
export function namedQwenConfig(name: QwenConfigName): QwenConfig {
  return normaliseQwenConfig(structuredClone(name === 'tiny' ? tinyQwenConfig : qwen7bConfig));
}

/** Builds the Qwen graphs with random weights (docs/MODEL.md §5) into `outDir`. */
export async function buildRandomQwenModels(
  config: QwenConfig,
  outDir: string,
  seed: number,
  options: BuildOptions,
): Promise<QwenModelsManifest> {
  const table = qwenParameterTable(config, options);
  const tensors = new Map(
    [...randomStateDict(table, seed)].map(([name, data]) => [name, { shape: table.get(name)!, values: data }]),
  );
  return buildQwenModels({
    config,
    weights: new InMemoryWeights(tensors),
    outDir,
    options,
    source: `random (seed ${seed})`,
    externalData: false,
  });
}

/** The tiny random Qwen graphs: the Qwen half of `ensureTinyModels`' folder (one cache for the whole pipeline). */
export async function ensureTinyQwenModels(
  seed?: number,
  options?: BuildOptions,
  cacheRoot?: string,
): Promise<{ modelsDir: string; manifest: QwenModelsManifest }> {
  const { modelsDir, qwenManifest } = await ensureTinyModels(seed, options, cacheRoot);
  return { modelsDir, manifest: qwenManifest };
}
