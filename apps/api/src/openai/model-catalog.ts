import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EDIT_PARAMS, type SizeLevel } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import { assertStep1XManifest, manifestSizeLevels, STEP1X_MANIFEST_FILE } from '@step1x/model-format';

/** One entry of `GET /v1/models`, in OpenAI's `Model` shape. */
export interface OpenAiModel {
  id: string;
  object: 'model';
  /** Unix seconds; the models folder's build time when this process can see it, else 0 (unknown). */
  created: number;
  owned_by: string;
}

/**
 * The model the OpenAI-compatible routes serve: its id comes from `OPENAI_MODEL_ID` (the API process usually has no
 * models folder: the workers load the models). Size levels are the ones POST /v1/edits accepts, narrowed to the
 * manifest's `size_levels` when this process can read `MODELS_DIR` (local mode, one host running both roles).
 */
export class ModelCatalog {
  constructor(
    readonly model: OpenAiModel,
    /** Ascending, never empty. */
    readonly sizeLevels: readonly SizeLevel[],
    readonly defaultSizeLevel: SizeLevel,
  ) {}

  static fromConfig(config: Pick<AppConfig, 'openai' | 'worker'>): ModelCatalog {
    const accepted: readonly SizeLevel[] = EDIT_PARAMS.sizeLevel.levels;
    const manifest = readManifest(config.worker.modelsDir);
    const declared = manifest ? manifestSizeLevels(manifest.manifest).supported : accepted;
    const levels = accepted.filter((level) => declared.includes(level));
    const sizeLevels = levels.length > 0 ? levels : accepted;
    const defaultSizeLevel = sizeLevels.includes(EDIT_PARAMS.sizeLevel.default)
      ? EDIT_PARAMS.sizeLevel.default
      : sizeLevels[0];
    return new ModelCatalog(
      { id: config.openai.modelId, object: 'model', created: manifest?.builtAt ?? 0, owned_by: 'step1x-edit-service' },
      sizeLevels,
      defaultSizeLevel,
    );
  }

  /** The model a request names; `undefined` (not given) is the served model. Null when it is not served here. */
  resolve(id: string | undefined): OpenAiModel | null {
    return id === undefined || id === this.model.id ? this.model : null;
  }

  /**
   * The size level whose area (level²) is nearest to `width` × `height`; ties go to the smaller level (less work).
   * The output keeps the input's size and aspect ratio either way: the level only sets the resolution the model
   * works at (docs/MODEL.md §9).
   */
  nearestSizeLevel(width: number, height: number): SizeLevel {
    const area = width * height;
    let best = this.sizeLevels[0];
    for (const level of this.sizeLevels) {
      if (Math.abs(level * level - area) < Math.abs(best * best - area)) best = level;
    }
    return best;
  }
}

function readManifest(
  modelsDir: string | null,
): { manifest: ReturnType<typeof assertStep1XManifest>; builtAt: number } | null {
  if (!modelsDir) return null;
  const file = join(modelsDir, STEP1X_MANIFEST_FILE);
  try {
    const manifest = assertStep1XManifest(JSON.parse(readFileSync(file, 'utf8')), file);
    return { manifest, builtAt: Math.floor(statSync(file).mtimeMs / 1000) };
  } catch {
    // The worker checks the folder and refuses a bad one; the API only narrows its size levels with it.
    return null;
  }
}
