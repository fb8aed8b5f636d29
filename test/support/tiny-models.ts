import { ensureTinyModels } from '@step1x/model-builder';

/**
 * The tiny random-weight models (built once, cached in `.cache/models`) for tests that run the real pipeline:
 * production code never builds them, so a test hands their folder to the worker as MODELS_DIR.
 */
export async function tinyModelsDir(): Promise<string> {
  return (await ensureTinyModels()).modelsDir;
}
