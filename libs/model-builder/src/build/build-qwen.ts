import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  QWEN_MANIFEST_FILE,
  QWEN_MODELS_FORMAT,
  QwenGraphName,
  QwenModelsManifest as QwenManifestShape,
  graphFileName,
} from '@step1x/model-format';
import { BuildOptions } from '../graph/module';
import { BUILDER_VERSION, writeOnnxModel } from '../export/onnx-writer';
import { digestFiles } from '../export/file-digests';
import { WeightProvider } from '../export/weight-provider';
import { QwenConfig } from '../models/qwen2_5_vl/qwen-config';
import { QwenGraphOptions, buildQwenGraphs } from '../models/qwen2_5_vl/qwen-graphs';
import { checkQwenWeights } from '../models/qwen2_5_vl/qwen-weights';
import { assertBuiltSignature } from './built-signature';

export { QWEN_MODELS_FORMAT, QWEN_MANIFEST_FILE } from '@step1x/model-format';

export interface QwenBuildInput {
  readonly config: QwenConfig;
  /** Every `model.visual.*` and `model.language_model.*` tensor under hf5 names (see `openQwenCheckpoint`). */
  readonly weights: WeightProvider;
  readonly outDir: string;
  readonly options: BuildOptions;
  /** Human-readable origin of the weights, recorded in the manifest. @defaultValue 'weights' */
  readonly source?: string;
  /** @defaultValue true (needed past protobuf's 2 GB: the 7B embedding alone is 1–2 GB) */
  readonly externalData?: boolean;
  readonly graphOptions?: QwenGraphOptions;
}

/** What a Qwen build adds to a models folder (the shape is `@step1x/model-format`'s). */
export type QwenModelsManifest = QwenManifestShape<QwenConfig>;

/**
 * Builds `qwen_vision.onnx` and `qwen_llm.onnx`, loads the weights strictly (every tensor used except `lm_head.*`,
 * every parameter present with its shape) and writes `qwen-manifest.json` with the sha256 of every file.
 */
export async function buildQwenModels(input: QwenBuildInput): Promise<QwenModelsManifest> {
  const { config, options, outDir } = input;
  const source = input.source ?? 'weights';
  const graphs = buildQwenGraphs(config, options, input.graphOptions);
  const expected = new Map<string, readonly number[]>();
  for (const g of Object.values(graphs)) for (const p of g.parameters.values()) expected.set(p.name, p.shape);
  checkQwenWeights(expected, input.weights, source);

  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const graphFiles = {} as Record<QwenGraphName, string>;
  for (const [name, graph] of Object.entries(graphs) as [QwenGraphName, (typeof graphs)[QwenGraphName]][]) {
    assertBuiltSignature(name, graph);
    const file = graphFileName(name);
    graphFiles[name] = file;
    written.push(
      ...writeOnnxModel(graph, {
        path: join(outDir, file),
        weights: input.weights,
        externalData: input.externalData,
        metadata: { model: 'qwen2_5_vl', stage: name, dtype: options.precision },
      }),
    );
  }
  const files = await digestFiles(outDir, written);
  const manifest: QwenModelsManifest = {
    format: QWEN_MODELS_FORMAT,
    builder_version: BUILDER_VERSION,
    dtype: options.precision,
    attention: options.attention,
    debug_outputs: input.graphOptions?.debugOutputs ?? false,
    config,
    source,
    graphs: graphFiles,
    files,
  };
  writeFileSync(join(outDir, QWEN_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
