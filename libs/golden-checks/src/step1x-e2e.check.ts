import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BuildOptions,
  Checkpoint,
  buildOnce,
  buildQwenModels,
  buildStep1XModels,
  TINY_MODEL_SIZE_LEVELS,
  builderFingerprint,
  normaliseQwenConfig,
  openQwenCheckpoint,
  parseStep1XConfig,
  qwenParameterTable,
} from '@step1x/model-builder';
import {
  Feeds,
  InferenceSession,
  SessionFactory,
  Step1XEditPipeline,
  TensorData,
  createOrtSession,
  gaussianNoise,
  getSchedule,
  resize,
  sizeLevelTarget,
  vaeOutputToImage,
} from '@step1x/pipeline';
import { decodeImage, type RgbImage } from '@step1x/imaging';
import { SafetensorsFile, goldenRoot, workspaceRoot } from '@step1x/tensors';
import { CaseResult, FLOAT_GATE } from './case-result';
import { CaseChecker } from './tensor-check';

export const STEP1X_E2E_FORMAT = 'step1x-e2e/1';

/** Most an 8-bit channel of an output image may differ (see `README.md` of the set: truncation of near-ties). */
export const IMAGE_LEVEL_TOLERANCE = 1;

interface WeightRef {
  golden_set: string;
  file: string;
  sha256: string;
}

interface E2ECase {
  case: string;
  file: string;
  sha256: string;
  image_file: string;
  instruction: string;
  size_level: number;
  steps: number;
  guidance: number;
  seed: number;
  source_size: [number, number];
  working_size: [number, number];
}

interface E2EManifest {
  format: string;
  weights: Record<'dit' | 'vae' | 'qwen' | 'qwen_config' | 'step1x_config', WeightRef>;
  cases: E2ECase[];
}

/** Which graph a session is, from its file name (the builder's graph names). */
export type GraphName = 'qwen_vision' | 'qwen_llm' | 'connector' | 'dit' | 'vae_encoder' | 'vae_decoder';

/**
 * A deliberate mistake injected between the pipeline and one graph (tests of the checker only): it receives the
 * feeds the pipeline built and returns the feeds the graph gets. The checker must then fail.
 */
export type FeedPerturbation = (graph: GraphName, feeds: Feeds) => Feeds;

export interface E2ECheckOptions {
  readonly gate?: number;
  readonly perturb?: FeedPerturbation;
}

/** Every run of every graph in one edit: the feeds it got and what it returned. */
class SessionRecorder {
  readonly runs = new Map<GraphName, { feeds: Feeds; outputs: Record<string, TensorData> }[]>();

  constructor(private readonly perturb?: FeedPerturbation) {}

  factory(): SessionFactory {
    return async (modelPath, options) => {
      const graph = graphNameOf(modelPath);
      const inner = await createOrtSession(modelPath, options);
      const runs: { feeds: Feeds; outputs: Record<string, TensorData> }[] = [];
      this.runs.set(graph, runs);
      const session: InferenceSession = {
        inputNames: inner.inputNames,
        outputNames: inner.outputNames,
        run: async (feeds) => {
          const given = this.perturb ? this.perturb(graph, feeds) : feeds;
          const outputs = await inner.run(given);
          runs.push({ feeds: snapshot(given), outputs });
          return outputs;
        },
        release: () => inner.release(),
      };
      return session;
    };
  }

  clear(): void {
    for (const runs of this.runs.values()) runs.length = 0;
  }

  run(graph: GraphName, index: number): { feeds: Feeds; outputs: Record<string, TensorData> } {
    const run = this.runs.get(graph)?.[index];
    if (!run) throw new Error(`the pipeline did not run ${graph} (call ${index + 1})`);
    return run;
  }

  count(graph: GraphName): number {
    return this.runs.get(graph)?.length ?? 0;
  }
}

/** A copy of the feeds: the pipeline reuses its buffers from one call to the next. */
function snapshot(feeds: Feeds): Feeds {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = { dims: [...t.dims], data: t.data.slice() };
  return out;
}

function graphNameOf(modelPath: string): GraphName {
  const base = modelPath.split(/[\\/]/).pop() ?? '';
  const name = base.replace(/\.onnx$/, '');
  const known: GraphName[] = ['qwen_vision', 'qwen_llm', 'connector', 'dit', 'vae_encoder', 'vae_decoder'];
  const graph = known.find((g) => g === name);
  if (!graph) throw new Error(`unknown graph file ${base}`);
  return graph;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The weights a set names, found in the golden root and checked against their recorded sha256. */
function resolveWeights(manifest: E2EManifest): Record<keyof E2EManifest['weights'], string> {
  const root = goldenRoot();
  const out = {} as Record<keyof E2EManifest['weights'], string>;
  for (const [key, ref] of Object.entries(manifest.weights) as [keyof E2EManifest['weights'], WeightRef][]) {
    const path = join(root, ref.golden_set, ref.file);
    const actual = sha256File(path);
    if (actual !== ref.sha256) throw new Error(`${path}: sha256 ${actual}, the set was made with ${ref.sha256}`);
    out[key] = path;
  }
  return out;
}

/**
 * Every graph of the pipeline from the set's weights (the step1x-tiny DiT + VAE and the qwen25vl-tiny Qwen), built
 * as `step1x models build --config tiny --dit … --vae … --qwen …` does, into one folder `Step1XEditPipeline.load`
 * takes. Cached by the builder's fingerprint, the weights' sha256 and the options.
 */
export async function buildE2EModels(manifest: E2EManifest, options: BuildOptions): Promise<string> {
  const paths = resolveWeights(manifest);
  const key = createHash('sha256')
    .update(builderFingerprint())
    .update(JSON.stringify({ weights: manifest.weights, options, sizeLevels: TINY_MODEL_SIZE_LEVELS }))
    .digest('hex')
    .slice(0, 16);
  const modelsDir = join(workspaceRoot(), '.cache', 'golden-models', `e2e-${key}`);
  await buildOnce(modelsDir, ['manifest.json', 'qwen-manifest.json'], async (outDir) => {
    const dit = Checkpoint.open(paths.dit);
    const vae = Checkpoint.open(paths.vae);
    try {
      await buildStep1XModels({
        config: parseStep1XConfig(JSON.parse(readFileSync(paths.step1x_config, 'utf8'))),
        ditWeights: dit,
        vaeWeights: vae,
        outDir,
        options,
        source: { dit: paths.dit, vae: paths.vae },
        externalData: false,
        // Tiny weights: the small levels the set runs at (64) as `models build --config tiny` declares them.
        sizeLevels: TINY_MODEL_SIZE_LEVELS,
      });
    } finally {
      dit.close();
      vae.close();
    }
    const qwenConfig = normaliseQwenConfig(JSON.parse(readFileSync(paths.qwen_config, 'utf8')));
    const weights = openQwenCheckpoint(paths.qwen, qwenParameterTable(qwenConfig, options));
    try {
      await buildQwenModels({ config: qwenConfig, weights, outDir, options, source: paths.qwen });
    } finally {
      weights.close();
    }
  });
  return modelsDir;
}

function rgbFrom(file: SafetensorsFile, name: string): RgbImage {
  const [height, width, channels] = file.info(name).shape;
  if (channels !== 3) throw new Error(`${name} is not HWC RGB`);
  return { width, height, data: file.readBytes(name) };
}

/** Row `row` of a `[2, …]` batch tensor. */
function batchRow<T extends Float32Array | BigInt64Array>(data: T, row: number): T {
  const half = data.length / 2;
  return data.subarray(row * half, (row + 1) * half) as T;
}

async function checkCase(
  dir: string,
  c: E2ECase,
  pipeline: Step1XEditPipeline,
  recorder: SessionRecorder,
  gate: number,
): Promise<CaseResult> {
  const check = new CaseChecker(c.case, gate);
  const file = SafetensorsFile.open(join(dir, c.file));
  try {
    if (sha256File(join(dir, c.file)) !== c.sha256) check.fail(c.file, 'sha256 differs from the manifest');
    const source = rgbFrom(file, 'source_image');
    const imageBytes = readFileSync(join(dir, c.image_file));
    recorder.clear();
    const result = await pipeline.edit({
      image: new Uint8Array(imageBytes),
      instruction: c.instruction,
      seed: c.seed,
      steps: c.steps,
      guidance: c.guidance,
      sizeLevel: c.size_level,
    });

    // Inputs: the decoded PNG is the stored source; the seed gives the stored noise (the dump injected ours).
    check.exact('source_image', (await decodeImage(new Uint8Array(imageBytes))).data, source.data);
    const noise = file.readFloat32('noise');
    check.exact('noise', gaussianNoise(c.seed, file.info('noise').shape), noise);

    // 1. The size_level resize (Lanczos) of the official input_process_image.
    const working = sizeLevelTarget(source, c.size_level);
    check.exact('working_size', [working.width, working.height], c.working_size);
    check.exact(
      'ref_image',
      resize(source, working.width, working.height, 'lanczos').data,
      file.readBytes('ref_image'),
    );

    // 2. The MLLM embeddings and masks as the sampler gets them: row 0 cond (instruction), row 1 uncond ("").
    const connector = recorder.run('connector', 0).feeds;
    const llm = file.readFloat32('llm_embedding');
    const llmMask = file.readBigInt64('llm_mask');
    for (const [row, branch] of [
      [0, 'cond'],
      [1, 'uncond'],
    ] as const) {
      check.float(
        `llm_embedding[${branch}]`,
        batchRow(connector.llm_embedding.data as Float32Array, row),
        batchRow(llm, row),
      );
      check.exact(`llm_mask[${branch}]`, batchRow(connector.mask.data as BigInt64Array, row), batchRow(llmMask, row));
    }

    // 3. The pixel→tensor step of the VAE input (to_tensor ·2 − 1, CHW) and the reference latent.
    const encoder = recorder.run('vae_encoder', 0);
    check.exact('vae_input.dims', encoder.feeds.image.dims, file.info('vae_input').shape);
    check.float('vae_input', encoder.feeds.image.data as Float32Array, file.readFloat32('vae_input'));
    check.float('ref_latent', encoder.outputs.latent.data as Float32Array, file.readFloat32('ref_latent'));

    // 4. The sampler: the schedule, then each DiT call's [noisy; reference] tokens, t and raw velocity (cond, uncond).
    const storedSchedule = file.readFloat32('timesteps');
    check.ulps('timesteps', getSchedule(c.steps, (working.width / 16) * (working.height / 16)), storedSchedule);
    const ditImg = file.readFloat32('dit_img');
    const ditOut = file.readFloat32('dit_output');
    const ditT = file.readFloat32('dit_t');
    const steps = file.info('dit_img').shape[0];
    check.exact('dit_calls', [recorder.count('dit')], [steps]);
    const perStep = ditImg.length / steps;
    for (let k = 0; k < Math.min(steps, recorder.count('dit')); k++) {
      const dit = recorder.run('dit', k);
      check.float(`dit_img[${k}]`, dit.feeds.img.data as Float32Array, ditImg.subarray(k * perStep, (k + 1) * perStep));
      check.ulps(`dit_t[${k}]`, dit.feeds.t_vec.data as Float32Array, ditT.subarray(2 * k, 2 * k + 2));
      check.float(
        `dit_output[${k}]`,
        dit.outputs.velocity.data as Float32Array,
        ditOut.subarray(k * perStep, (k + 1) * perStep),
      );
    }

    // 5. The final latent into the VAE decoder, the decoded image, its 8-bit form and the resize back to the source.
    const decoder = recorder.run('vae_decoder', 0);
    check.float('final_latent', decoder.feeds.latent.data as Float32Array, file.readFloat32('final_latent'));
    const decoded = decoder.outputs.image.data as Float32Array;
    check.float('decoded', decoded, file.readFloat32('decoded'));
    const decodedImage = rgbFrom(file, 'decoded_image');
    const ours = vaeOutputToImage(decoded, working.height, working.width);
    check.levels('decoded_image', ours.data, decodedImage.data, IMAGE_LEVEL_TOLERANCE);
    const outputImage = rgbFrom(file, 'output_image');
    check.exact('output_size', [result.image.width, result.image.height], [outputImage.width, outputImage.height]);
    check.levels('output_image', result.image.data, outputImage.data, IMAGE_LEVEL_TOLERANCE);
    // The resize back alone, on the official 8-bit image: Pillow's bicubic, bit for bit.
    check.exact(
      'output_resize',
      resize(decodedImage, outputImage.width, outputImage.height, 'bicubic').data,
      outputImage.data,
    );
  } catch (err) {
    check.fail(c.case, (err as Error).stack ?? String(err));
  } finally {
    file.close();
  }
  return check.result();
}

/**
 * Checks `Step1XEditPipeline` end to end against a `step1x-e2e/1` set made by the official inference code: every
 * graph's feeds and outputs are recorded through the pipeline's session factory and compared with what the
 * official code handed between the same stages (README.md of the set).
 */
export async function checkStep1XE2ESet(
  dir: string,
  options: BuildOptions,
  checkOptions: E2ECheckOptions = {},
): Promise<CaseResult[]> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as E2EManifest;
  if (manifest.format !== STEP1X_E2E_FORMAT) throw new Error(`not a ${STEP1X_E2E_FORMAT} set: ${manifest.format}`);
  const modelsDir = await buildE2EModels(manifest, options);
  const recorder = new SessionRecorder(checkOptions.perturb);
  const pipeline = await Step1XEditPipeline.load(modelsDir, { sessionFactory: recorder.factory() });
  try {
    const results: CaseResult[] = [];
    for (const c of manifest.cases)
      results.push(await checkCase(dir, c, pipeline, recorder, checkOptions.gate ?? FLOAT_GATE));
    return results;
  } finally {
    await pipeline.release();
  }
}
