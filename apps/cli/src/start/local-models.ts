import { ensureTinyModels } from '@step1x/model-builder';

/**
 * Local mode's models folder: MODELS_DIR when set, else tiny models with random weights, built once and cached
 * (`.cache/models`). Only local mode and the tests build them: a worker outside local mode is given MODELS_DIR or
 * refuses to start, so production never ships or loads the graph builder.
 */
export async function localModelsDir(configured: string | null, warn: (line: string) => void): Promise<string> {
  if (configured) return configured;
  warn('MODELS_DIR is unset: using tiny models with RANDOM weights (outputs are not meaningful edits)');
  return (await ensureTinyModels()).modelsDir;
}
