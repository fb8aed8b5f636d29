import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from '@step1x/tensors';
import { BuildOptions, DEFAULT_BUILD_OPTIONS } from '../graph/module';
import { BUILDER_VERSION } from '../export/onnx-writer';
import { InMemoryWeights } from '../export/weight-provider';
import { QwenConfig, normaliseQwenConfig } from '../models/qwen2_5_vl/qwen-config';
import { qwenParameterTable } from '../models/qwen2_5_vl/qwen-graphs';
import { DEFAULT_TINY_SEED, randomStateDict } from '../weights/random-init';
import { QWEN_MANIFEST_FILE, QwenModelsManifest, buildQwenModels } from './build-qwen';
import tinyQwenConfig from '../configs/qwen2_5_vl-tiny.json';
import qwen7bConfig from '../configs/qwen2_5_vl-7b.json';

export type QwenConfigName = 'tiny' | '7b';

/** `tiny` = the qwen25vl-tiny golden's config (transformers' nested layout); `7b` = Qwen2.5-VL-7B-Instruct (flat). */
export function namedQwenConfig(name: QwenConfigName): QwenConfig {
  return normaliseQwenConfig(structuredClone(name === 'tiny' ? tinyQwenConfig : qwen7bConfig));
}

/** Builds the Qwen graphs with random weights (DECISIONS §5) into `outDir`. */
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

/**
 * The tiny random Qwen2.5-VL models for tests, the CLI and the embedded default, built once and cached under
 * `.cache/models/tiny-qwen-<key>` by builder version + config + seed + options (mirrors `ensureTinyModels`).
 */
export async function ensureTinyQwenModels(
  seed: number = DEFAULT_TINY_SEED,
  options: BuildOptions = DEFAULT_BUILD_OPTIONS,
  cacheRoot: string = join(workspaceRoot(), '.cache', 'models'),
): Promise<{ modelsDir: string; manifest: QwenModelsManifest }> {
  const config = namedQwenConfig('tiny');
  const key = createHash('sha256')
    .update(JSON.stringify({ BUILDER_VERSION, config, seed, options }))
    .digest('hex')
    .slice(0, 16);
  const modelsDir = join(cacheRoot, `tiny-qwen-${key}`);
  const manifestPath = join(modelsDir, QWEN_MANIFEST_FILE);
  if (existsSync(manifestPath))
    return { modelsDir, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as QwenModelsManifest };
  // Build beside the final folder and rename, so a concurrent reader never sees a half-written cache entry.
  const staging = `${modelsDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const manifest = await buildRandomQwenModels(config, staging, seed, options);
  try {
    renameSync(staging, modelsDir);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process won the race; its entry is identical
  }
  return { modelsDir, manifest };
}
