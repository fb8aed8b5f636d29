import { WeightProvider } from '../../export/weight-provider';
import { loadStateDictStrict } from '../../weights/state-dict';
import { Checkpoint, renameQwenPublishedToHf5 } from '../../weights/checkpoint';
import { NamePattern } from '../../weights/name-patterns';
import { ParameterTable } from '../../weights/tensor-table';

/** Tensors a Qwen2.5-VL checkpoint carries that no graph of ours uses: the LM head (we stop at hidden states). */
export const QWEN_UNUSED_TENSORS: readonly NamePattern[] = ['lm_head.*'];

/**
 * Opens a Qwen2.5-VL checkpoint (a `.safetensors` file, a directory, or a sharded `model.safetensors.index.json`)
 * under transformers 5.x names whichever layout it was saved in: the published `model.layers.*` / `visual.*` names
 * go through transformers' own load-path renaming, hf5 names pass unchanged. `lm_head.*` is left out. A sparse
 * embedding (the goldens' `*.nonzero_rows/values`) takes its dense shape from its metadata or from `expected`.
 * The returned Checkpoint is the WeightProvider `buildQwenModels` takes; close it after the build.
 */
export function openQwenCheckpoint(path: string, expected?: ParameterTable): Checkpoint {
  return Checkpoint.open(path, {
    rename: renameQwenPublishedToHf5,
    ignore: QWEN_UNUSED_TENSORS,
    sparseDenseShapes: expected,
  });
}

/**
 * Strict loading for the Qwen graphs: every parameter present with its shape, every tensor used, `lm_head.*` the
 * only tensor allowed to go unused. Throws StateDictMismatchError naming each missing, unexpected and misshaped
 * tensor.
 */
export function checkQwenWeights(expected: ParameterTable, weights: WeightProvider, source: string): void {
  loadStateDictStrict(expected, weights, { ignore: QWEN_UNUSED_TENSORS, sourceName: source });
}
