import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../graph/graph-builder';
import {
  FULL_MODEL_SIZE_LEVELS,
  STEP1X_MANIFEST_FILE,
  STEP1X_MODELS_FORMAT,
  SizeLevels,
  Step1XGraphName,
  Step1XModelsManifest,
  graphFileName,
} from '@step1x/model-format';
import { BuildOptions } from '../graph/module';
import { Step1XConfig } from '../models/config';
import {
  buildConnectorGraph,
  buildDitGraph,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
} from '../models/step1x-graphs';
import { BUILDER_VERSION, writeOnnxModel } from '../export/onnx-writer';
import { digestFiles } from '../export/file-digests';
import { WeightProvider } from '../export/weight-provider';
import { loadStateDictStrict } from '../weights/state-dict';
import { assertBuiltSignature } from './built-signature';

export { STEP1X_MODELS_FORMAT, STEP1X_MANIFEST_FILE } from '@step1x/model-format';

export interface Step1XBuildInput {
  readonly config: Step1XConfig;
  /** DiT checkpoint including `connector.*` (official names). */
  readonly ditWeights: WeightProvider;
  /** FLUX AE checkpoint (`encoder.*`, `decoder.*`). */
  readonly vaeWeights: WeightProvider;
  readonly outDir: string;
  readonly options: BuildOptions;
  /** Human-readable origin of the weights, recorded in the manifest. */
  readonly source: Record<string, string>;
  /** @defaultValue true */
  readonly externalData?: boolean;
  /** The size levels the weights support, recorded in the manifest. @defaultValue the full model's (512/768/1024) */
  readonly sizeLevels?: SizeLevels;
}

/** `manifest.json` as the builder writes it (the shape is `@step1x/model-format`'s). */
export type ModelsManifest = Step1XModelsManifest<Step1XConfig>;

function parameterTable(graphs: readonly GraphBuilder[]): Map<string, readonly number[]> {
  const table = new Map<string, readonly number[]>();
  for (const g of graphs) for (const p of g.parameters.values()) table.set(p.name, p.shape);
  return table;
}

function step1xGraphs(config: Step1XConfig, options: BuildOptions): Record<Step1XGraphName, GraphBuilder> {
  return {
    connector: buildConnectorGraph(config, options),
    dit: buildDitGraph(config, options),
    vae_encoder: buildVaeEncoderGraph(config, options),
    vae_decoder: buildVaeDecoderGraph(config, options),
  };
}

/** The parameter tables the two checkpoints must match exactly: DiT + connector, and the VAE. */
export function step1xParameterTables(
  config: Step1XConfig,
  options: BuildOptions,
): { dit: Map<string, readonly number[]>; vae: Map<string, readonly number[]> } {
  const g = step1xGraphs(config, options);
  return { dit: parameterTable([g.connector, g.dit]), vae: parameterTable([g.vae_encoder, g.vae_decoder]) };
}

/**
 * Builds the four Step1X-Edit stage graphs, loads their weights strictly (every checkpoint tensor used, every
 * parameter present with its shape), writes them and a manifest with the sha256 of every file.
 */
export async function buildStep1XModels(input: Step1XBuildInput): Promise<ModelsManifest> {
  const { config, options, outDir } = input;
  const graphs = step1xGraphs(config, options);
  loadStateDictStrict(parameterTable([graphs.connector, graphs.dit]), input.ditWeights, {
    sourceName: input.source.dit ?? 'DiT checkpoint',
  });
  loadStateDictStrict(parameterTable([graphs.vae_encoder, graphs.vae_decoder]), input.vaeWeights, {
    sourceName: input.source.vae ?? 'VAE checkpoint',
  });

  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const graphFiles = {} as Record<Step1XGraphName, string>;
  for (const [name, graph] of Object.entries(graphs) as [Step1XGraphName, GraphBuilder][]) {
    assertBuiltSignature(name, graph);
    const weights = name.startsWith('vae') ? input.vaeWeights : input.ditWeights;
    const file = graphFileName(name);
    graphFiles[name] = file;
    written.push(
      ...writeOnnxModel(graph, {
        path: join(outDir, file),
        weights,
        externalData: input.externalData,
        metadata: { model_version: config.runtime.version, stage: name, dtype: options.precision },
      }),
    );
  }
  const files = await digestFiles(outDir, written);
  const manifest: ModelsManifest = {
    format: STEP1X_MODELS_FORMAT,
    model_version: config.runtime.version,
    builder_version: BUILDER_VERSION,
    dtype: options.precision,
    attention: options.attention,
    config,
    source: input.source,
    graphs: graphFiles,
    files,
    size_levels: input.sizeLevels ?? FULL_MODEL_SIZE_LEVELS,
  };
  writeFileSync(join(outDir, STEP1X_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
