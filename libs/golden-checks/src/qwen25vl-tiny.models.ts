import { Hash, createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  BuildOptions,
  buildOnce,
  builderFingerprint,
  QWEN_MANIFEST_FILE,
  QwenConfig,
  QwenModelsManifest,
  buildQwenModels,
  openQwenCheckpoint,
  qwenParameterTable,
  readJsonFile,
} from '@step1x/model-builder';
import { InferenceSession, createOrtSession } from '@step1x/pipeline';
import { workspaceRoot } from '@step1x/tensors';

export interface QwenSessions {
  readonly vision: InferenceSession;
  readonly llm: InferenceSession;
}

/**
 * Builds (or reuses from `.cache/golden-models/`) the two Qwen graphs from a golden directory's own config and one
 * of its weight files, with the debug outputs the goldens store (vision_blocks_out, inputs_embeds,
 * hidden_after_layer0). The cache key covers the builder's fingerprint (its compiled code), config, options and the weight bytes.
 */
export async function buildQwenModelsForGoldenDir(
  dir: string,
  config: QwenConfig,
  weightsFile: string,
  options: BuildOptions,
): Promise<{ modelsDir: string; manifest: QwenModelsManifest }> {
  const weightsPath = resolve(dir, weightsFile); // a set may point at a checkpoint elsewhere (absolute path)
  const weights = openQwenCheckpoint(weightsPath, qwenParameterTable(config, options));
  try {
    const hash = createHash('sha256')
      .update(builderFingerprint())
      .update(JSON.stringify({ config, options, debug: true }));
    // Names as the graphs see them, then every byte behind them (a file, a folder or a sharded index).
    for (const [name, t] of weights.tensors) hash.update(`${name}:${t.dtype}:${t.shape.join('x')};`);
    for (const path of weights.filePaths) fingerprintFile(hash, path);
    const modelsDir = join(workspaceRoot(), '.cache', 'golden-models', `qwen-${hash.digest('hex').slice(0, 16)}`);
    await buildOnce(modelsDir, [QWEN_MANIFEST_FILE], (outDir) =>
      buildQwenModels({
        config,
        weights,
        outDir,
        options,
        source: weightsPath,
        externalData: parameterBytes(config, options) > INLINE_WEIGHTS_LIMIT,
        graphOptions: { debugOutputs: true },
      }),
    );
    return { modelsDir, manifest: readJsonFile<QwenModelsManifest>(join(modelsDir, QWEN_MANIFEST_FILE)) };
  } finally {
    weights.close();
  }
}

/** Files up to this size are hashed by content; bigger ones (a full-size checkpoint) by path, size and mtime. */
const CONTENT_HASH_LIMIT = 256 * 1024 * 1024;
/** Past this many parameter bytes the graphs keep their weights in `.onnx.data` files (protobuf's 2 GB limit). */
const INLINE_WEIGHTS_LIMIT = 1024 * 1024 * 1024;

function fingerprintFile(hash: Hash, path: string): void {
  const { size, mtimeMs } = statSync(path);
  if (size <= CONTENT_HASH_LIMIT) hash.update(readFileSync(path));
  else hash.update(`${resolve(path)}:${size}:${mtimeMs};`);
}

function parameterBytes(config: QwenConfig, options: BuildOptions): number {
  const width = options.precision === 'fp16' ? 2 : 4;
  let elements = 0;
  for (const shape of qwenParameterTable(config, options).values()) elements += shape.reduce((a, b) => a * b, 1);
  return elements * width;
}

export async function openQwenSessions(modelsDir: string, manifest: QwenModelsManifest): Promise<QwenSessions> {
  const vision = await createOrtSession(join(modelsDir, manifest.graphs.qwen_vision));
  try {
    return { vision, llm: await createOrtSession(join(modelsDir, manifest.graphs.qwen_llm)) };
  } catch (err) {
    await vision.release();
    throw err;
  }
}
