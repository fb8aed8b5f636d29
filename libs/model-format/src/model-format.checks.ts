import {
  FULL_MODEL_SIZE_LEVELS,
  GRAPH_SIGNATURES,
  GraphName,
  QWEN_GRAPH_NAMES,
  QWEN_MODELS_FORMAT,
  QwenModelsManifest,
  STEP1X_GRAPH_NAMES,
  STEP1X_MODELS_FORMAT,
  SizeLevels,
  Step1XModelsManifest,
  TensorSpec,
} from './model-format';

/** The models folder does not match the format this code reads; the message names every mismatch. */
export class ModelFormatError extends Error {
  readonly code = 'model_format_mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkGraphTable(file: string, graphs: unknown, names: readonly string[]): string[] {
  if (!isRecord(graphs)) return [`${file}: "graphs" is missing`];
  return names
    .filter((name) => typeof graphs[name] !== 'string' || (graphs[name] as string).length === 0)
    .map((name) => `${file}: graphs.${name} is missing`);
}

function checkSizeLevels(file: string, levels: unknown): string[] {
  if (levels === undefined) return [];
  const ok =
    isRecord(levels) &&
    Array.isArray(levels.supported) &&
    levels.supported.length > 0 &&
    levels.supported.every((l) => Number.isInteger(l) && (l as number) > 0) &&
    levels.supported.includes(levels.default);
  return ok ? [] : [`${file}: size_levels must be { supported: [positive integers], default: one of them }`];
}

function assertFormat(raw: unknown, file: string, format: string): asserts raw is Record<string, unknown> {
  if (!isRecord(raw)) throw new ModelFormatError(`${file}: not a JSON object`);
  if (raw.format !== format) {
    throw new ModelFormatError(
      `${file}: format is ${JSON.stringify(raw.format)}, this build reads "${format}"; ` +
        'rebuild the models with `step1x models build`',
    );
  }
}

function fail(problems: readonly string[]): void {
  if (problems.length > 0) throw new ModelFormatError(problems.join('; '));
}

/**
 * Checks a parsed `manifest.json` against the format this code reads (format id, graph table, size levels).
 * @throws ModelFormatError naming every problem
 */
export function assertStep1XManifest(raw: unknown, file = 'manifest.json'): Step1XModelsManifest {
  assertFormat(raw, file, STEP1X_MODELS_FORMAT);
  const config = raw.config;
  fail([
    ...checkGraphTable(file, raw.graphs, STEP1X_GRAPH_NAMES),
    ...(isRecord(config) && isRecord(config.dit) && isRecord(config.vae) && isRecord(config.runtime)
      ? []
      : [`${file}: config.dit, config.vae and config.runtime are required`]),
    ...checkSizeLevels(file, raw.size_levels),
  ]);
  return raw as unknown as Step1XModelsManifest;
}

/** @throws ModelFormatError naming every problem */
export function assertQwenManifest(raw: unknown, file = 'qwen-manifest.json'): QwenModelsManifest {
  assertFormat(raw, file, QWEN_MODELS_FORMAT);
  fail(checkGraphTable(file, raw.graphs, QWEN_GRAPH_NAMES));
  return raw as unknown as QwenModelsManifest;
}

/** The manifest's size levels, or the full model's for a manifest written before the field existed. */
export function manifestSizeLevels(manifest: Pick<Step1XModelsManifest, 'size_levels'>): SizeLevels {
  return manifest.size_levels ?? FULL_MODEL_SIZE_LEVELS;
}

/** A loaded value's element type (`float32`, `int64`, …) and rank, where the runtime reports them. */
export interface LoadedTensorInfo {
  readonly name: string;
  readonly dtype: string;
  /** Number of dimensions; `null` when the runtime does not know the shape. */
  readonly rank: number | null;
}

/** What a loaded graph says about itself: ONNX Runtime sessions expose these before any run. */
export interface GraphInterface {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** When present (ONNX Runtime reports them), every declared value's dtype and rank are checked too. */
  readonly inputInfo?: readonly LoadedTensorInfo[];
  readonly outputInfo?: readonly LoadedTensorInfo[];
}

function typeProblems(kind: string, declared: readonly TensorSpec[], loaded?: readonly LoadedTensorInfo[]): string[] {
  if (!loaded) return [];
  const problems: string[] = [];
  for (const spec of declared) {
    const info = loaded.find((t) => t.name === spec.name);
    if (!info) continue; // a missing value is reported by name
    if (info.dtype !== spec.dtype || (info.rank !== null && info.rank !== spec.rank)) {
      problems.push(
        `${kind} ${spec.name} is ${info.dtype}[rank ${info.rank ?? '?'}], expected ${spec.dtype}[rank ${spec.rank}]`,
      );
    }
  }
  return problems;
}

/**
 * The differences between a loaded graph and its signature: missing or unexpected inputs (a feed the graph does not
 * declare fails every run), missing or unexpected outputs, and, where the runtime reports them, dtypes and ranks.
 * Debug outputs are allowed but never required.
 */
export function graphSignatureProblems(graph: GraphName, loaded: GraphInterface): string[] {
  const signature = GRAPH_SIGNATURES[graph];
  const expectedInputs = signature.inputs.map((t) => t.name);
  const allowedOutputs = new Set([...signature.outputs, ...(signature.debugOutputs ?? [])].map((t) => t.name));
  const problems: string[] = [];
  const missingInputs = expectedInputs.filter((name) => !loaded.inputNames.includes(name));
  const unexpectedInputs = loaded.inputNames.filter((name) => !expectedInputs.includes(name));
  const missingOutputs = signature.outputs.map((t) => t.name).filter((name) => !loaded.outputNames.includes(name));
  const unexpectedOutputs = loaded.outputNames.filter((name) => !allowedOutputs.has(name));
  if (missingInputs.length) problems.push(`missing input ${missingInputs.join(', ')}`);
  if (unexpectedInputs.length) problems.push(`unexpected input ${unexpectedInputs.join(', ')}`);
  if (missingOutputs.length) problems.push(`missing output ${missingOutputs.join(', ')}`);
  if (unexpectedOutputs.length) problems.push(`unexpected output ${unexpectedOutputs.join(', ')}`);
  problems.push(...typeProblems('input', signature.inputs, loaded.inputInfo));
  problems.push(
    ...typeProblems('output', [...signature.outputs, ...(signature.debugOutputs ?? [])], loaded.outputInfo),
  );
  return problems;
}

/**
 * @throws ModelFormatError naming the graph, its file and every difference from its signature
 */
export function assertGraphSignature(graph: GraphName, file: string, loaded: GraphInterface): void {
  const problems = graphSignatureProblems(graph, loaded);
  if (problems.length > 0) {
    const expected = GRAPH_SIGNATURES[graph];
    throw new ModelFormatError(
      `graph ${graph} (${file}) does not match the models format: ${problems.join('; ')} ` +
        `(expected inputs ${expected.inputs.map((t) => t.name).join(', ')}; ` +
        `outputs ${expected.outputs.map((t) => t.name).join(', ')}; got inputs ${loaded.inputNames.join(', ')}; ` +
        `outputs ${loaded.outputNames.join(', ')})`,
    );
  }
}
