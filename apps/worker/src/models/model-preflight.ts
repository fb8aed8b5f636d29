import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureTinyModels } from '@step1x/model-builder';
import type { RgbImage } from '@step1x/imaging';
import { STEP1X_MANIFEST_FILE, QWEN_MANIFEST_FILE } from '@step1x/model-format';
import { Step1XEditPipeline, type PipelineLoadOptions } from '@step1x/pipeline';
import { PipelineImageEditor } from '../edits/pipeline-image-editor';
import { describeError, type WorkerLogger } from '../worker-logger';

/** The models folder is missing, incomplete or does not run: the worker refuses to take jobs (fail at boot). */
export class ModelPreflightError extends Error {
  readonly code = 'models_invalid';
  constructor(message: string, options?: { cause?: unknown }) {
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

export interface ResolvedModels {
  modelsDir: string;
  /** True for the tiny random models (MODELS_DIR unset): outputs only show that the pipeline runs. */
  tiny: boolean;
}

/** MODELS_DIR, or the tiny random models built once and cached (the local default). */
export async function resolveModelsDir(configured: string | null, logger: WorkerLogger): Promise<ResolvedModels> {
  if (configured) return { modelsDir: resolve(configured), tiny: false };
  logger.warn('MODELS_DIR is unset: using tiny models with RANDOM weights (outputs are not meaningful edits)');
  return { modelsDir: (await ensureTinyModels()).modelsDir, tiny: true };
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

/**
 * Loads `count` pipelines (one per GPU slot) and runs one tiny edit through each, so session creation, the
 * first-run allocations and any broken graph show up before the worker takes a job.
 */
export async function loadWarmEditors(
  modelsDir: string,
  count: number,
  logger: WorkerLogger,
  options: PipelineLoadOptions = {},
): Promise<PipelineImageEditor[]> {
  assertModelsFolder(modelsDir);
  const editors: PipelineImageEditor[] = [];
  try {
    for (let slot = 0; slot < count; slot++) {
      const started = performance.now();
      const pipeline = await Step1XEditPipeline.load(modelsDir, options).catch((error: unknown) => {
        throw new ModelPreflightError(`cannot load the models in ${modelsDir}: ${describeError(error)}`, {
          cause: error,
        });
      });
      editors.push(new PipelineImageEditor(pipeline));
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
    return editors;
  } catch (error) {
    await Promise.all(editors.map((editor) => editor.release().catch(() => undefined)));
    throw error;
  }
}
