import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RgbImage } from '@step1x/imaging';
import { STEP1X_MANIFEST_FILE, QWEN_MANIFEST_FILE } from '@step1x/model-format';
import { Step1XEditPipeline, type PipelineLoadOptions } from '@step1x/pipeline';
import { PipelineImageEditor } from '../edits/pipeline-image-editor';
import { describeError, type WorkerLogger } from '../worker-logger';

export type ModelPreflightErrorCode =
  /** The folder is missing, incomplete or does not run. */
  | 'models_invalid'
  /** No folder was given: a worker outside local mode never falls back to the tiny random models. */
  | 'models_dir_required'
  /** The folder's weights are random and this worker may not serve them (docs/ARCHITECTURE.md, "Models"). */
  | 'models_random_weights';

/** The worker refuses to take jobs (fail at boot) with the models it was given. */
export class ModelPreflightError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown },
    readonly code: ModelPreflightErrorCode = 'models_invalid',
  ) {
    super(message, options);
    this.name = 'ModelPreflightError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Files `Step1XEditPipeline.load` reads first; their absence is the most common deploy mistake. */
const REQUIRED_FILES = [STEP1X_MANIFEST_FILE, QWEN_MANIFEST_FILE];

/**
 * The warm-up edit: a small image (the Qwen vision tower needs ≥ 56 px) at the models' smallest size level, so it
 * costs little and uses only what the manifest declares.
 */
const WARM_SIZE = 64;
const WARM_STEPS = 1;

/**
 * The models folder of a worker: the one its caller resolved (local mode passes the tiny models it built), else
 * MODELS_DIR. Without either it refuses to start: the tiny random models belong to local mode and tests, and a
 * production worker that silently served them would answer every edit with noise.
 */
export function requireModelsDir(resolved: string | undefined, configured: string | null): string {
  const modelsDir = resolved ?? configured;
  if (!modelsDir) {
    throw new ModelPreflightError(
      'MODELS_DIR is not set: a worker outside local mode needs the folder of models it serves ' +
        '(build one with `step1x models build --config full`). ' +
        'Tiny random-weight models run only in local mode (`npm start` without REDIS_URL).',
      undefined,
      'models_dir_required',
    );
  }
  return resolve(modelsDir);
}

function assertModelsFolder(modelsDir: string): void {
  if (!existsSync(modelsDir) || !statSync(modelsDir).isDirectory()) {
    throw new ModelPreflightError(`models folder ${modelsDir} does not exist; build it with \`step1x models build\``);
  }
  const missing = REQUIRED_FILES.filter((file) => !existsSync(join(modelsDir, file)));
  if (missing.length > 0) {
    throw new ModelPreflightError(
      `models folder ${modelsDir} lacks ${missing.join(' and ')}; build it with \`step1x models build\``,
    );
  }
}

function warmImage(): RgbImage {
  const data = new Uint8Array(WARM_SIZE * WARM_SIZE * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
  return { width: WARM_SIZE, height: WARM_SIZE, data };
}

export interface WarmEditorsOptions {
  /** Passed to every pipeline. */
  pipeline?: PipelineLoadOptions;
  /**
   * Serve models whose weights are random (local mode, tests): every edit they make says so. Otherwise such a
   * folder is refused before any warm-up. @defaultValue false
   */
  allowRandomWeights?: boolean;
}

/**
 * Loads `count` pipelines (one per GPU slot) and runs one tiny edit through each, so session creation, the
 * first-run allocations and any broken graph show up before the worker takes a job.
 */
export async function loadWarmEditors(
  modelsDir: string,
  count: number,
  logger: WorkerLogger,
  options: WarmEditorsOptions = {},
): Promise<PipelineImageEditor[]> {
  assertModelsFolder(modelsDir);
  const editors: PipelineImageEditor[] = [];
  try {
    for (let slot = 0; slot < count; slot++) {
      const started = performance.now();
      const pipeline = await Step1XEditPipeline.load(modelsDir, options.pipeline).catch((error: unknown) => {
        throw new ModelPreflightError(`cannot load the models in ${modelsDir}: ${describeError(error)}`, {
          cause: error,
        });
      });
      const editor = new PipelineImageEditor(pipeline, options.pipeline?.executionProviders?.[0] ?? 'cpu');
      editors.push(editor);
      if (editor.randomWeights && !options.allowRandomWeights) {
        throw new ModelPreflightError(
          `the models in ${modelsDir} have RANDOM weights (${JSON.stringify(pipeline.weightSource)}): they run only ` +
            'in local mode (`npm start` without REDIS_URL), or with ALLOW_RANDOM_WEIGHTS=true for tests and demos',
          undefined,
          'models_random_weights',
        );
      }
      await pipeline
        .edit({
          image: warmImage(),
          instruction: 'warm up',
          seed: 0,
          steps: WARM_STEPS,
          sizeLevel: Math.min(...pipeline.sizeLevels.supported),
        })
        .catch((error: unknown) => {
          throw new ModelPreflightError(`the warm-up edit failed on ${modelsDir}: ${describeError(error)}`, {
            cause: error,
          });
        });
      logger.info(`slot ${slot + 1}/${count}: models loaded and warm in ${Math.round(performance.now() - started)} ms`);
    }
    if (editors[0]?.randomWeights) {
      logger.warn(`the models in ${modelsDir} have RANDOM weights: outputs are not meaningful edits (random_weights)`);
    }
    return editors;
  } catch (error) {
    await Promise.all(editors.map((editor) => editor.release().catch(() => undefined)));
    throw error;
  }
}
