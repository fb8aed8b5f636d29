import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildOptions, QwenConfig, normaliseQwenConfig } from '@step1x/model-builder';
import {
  GridThw,
  STEP1X_QWEN_IMAGE_CONFIG,
  VisionWindowConfig,
  expandPatches,
  mropePositionIds,
  padStep1xEmbedding,
  runQwenLlm,
  runQwenVision,
  visionPatchPositionIds,
  visionWindowLayout,
} from '@step1x/pipeline';
import { SafetensorsFile, relativeL2 } from '@step1x/tensors';
import { CaseResult, FLOAT_GATE } from './case-result';
import { QwenSessions, buildQwenModelsForGoldenDir, openQwenSessions } from './qwen25vl-tiny.models';
import { CaseChecker } from './tensor-check';

export const QWEN25VL_TINY_FORMAT = 'qwen25vl-tiny/1';

interface QwenTinyManifest {
  format: string;
  weights?: Record<string, string>;
  cases: Record<string, { file: string }>;
}

interface QwenCaseJson {
  case: string;
  weights?: string;
  image_file?: string;
  image_group?: string;
  pixel_values_sha256_f32?: string;
}

interface CaseContext {
  readonly dir: string;
  readonly config: QwenConfig;
  readonly sessions: QwenSessions;
  readonly json: QwenCaseJson;
  readonly file: SafetensorsFile;
  readonly check: CaseChecker;
}

/** What the vision half of a case leaves for the language half. */
interface VisionResult {
  readonly grids: GridThw[];
  readonly ourImageEmbeds: Float32Array;
}

/** The gate, plus the measured error as a diagnostic line (printed without --quiet). */
function checkFloat(check: CaseChecker, name: string, ours: Float32Array, ref: Float32Array): void {
  check.float(name, ours, ref);
  if (ours.length === ref.length) check.note(`${name}: rel L2 ${relativeL2(ours, ref).toExponential(3)}`);
}

function gridsOf(file: SafetensorsFile): GridThw[] {
  const flat = file.readIntegers('image_grid_thw');
  return Array.from({ length: flat.length / 3 }, (_, i) => ({
    t: flat[3 * i],
    h: flat[3 * i + 1],
    w: flat[3 * i + 2],
  }));
}

function windowConfigOf(config: QwenConfig): VisionWindowConfig {
  const v = config.vision;
  return { windowSize: v.window_size, patchSize: v.patch_size, spatialMergeSize: v.spatial_merge_size };
}

/** `pixel_values[r, c] = pixel_lut[c // (T·p²), pixel_values_u8[r, c]]` (golden README), float32. */
function storedPixelValues(image: SafetensorsFile, config: QwenConfig): Float32Array {
  const [, columns] = image.info('pixel_values_u8').shape;
  const v = config.vision;
  const layout = { ...STEP1X_QWEN_IMAGE_CONFIG, patchSize: v.patch_size, temporalPatchSize: v.temporal_patch_size };
  return expandPatches(image.readBytes('pixel_values_u8'), image.readFloat32('pixel_lut'), columns, layout);
}

/** Window layout and patch positions exact, then the tower fed the stored inputs; image_embeds under the gate. */
async function checkVision(c: CaseContext, image: SafetensorsFile): Promise<VisionResult> {
  const { check, config, file } = c;
  const grids = gridsOf(image);
  check.exact('image_grid_thw', file.readIntegers('image_grid_thw'), image.readIntegers('image_grid_thw'));
  const pixelValues = storedPixelValues(image, config);
  if (c.json.pixel_values_sha256_f32 !== undefined) {
    const digest = createHash('sha256').update(new Uint8Array(pixelValues.buffer)).digest('hex');
    if (digest !== c.json.pixel_values_sha256_f32)
      check.fail('pixel_values', `sha256 ${digest} ≠ ${c.json.pixel_values_sha256_f32}`);
  }
  const ours = visionWindowLayout(grids, windowConfigOf(config));
  check.exact('window_index', ours.windowIndex, image.readIntegers('window_index'));
  check.exact('cu_window_seqlens', ours.cuWindowSeqlens, image.readIntegers('cu_window_seqlens'));
  check.exact('cu_seqlens', ours.cuSeqlens, image.readIntegers('cu_seqlens'));
  const ourPositions = visionPatchPositionIds(grids, windowConfigOf(config));
  check.exact('vision_position_ids', ourPositions, image.readIntegers('vision_position_ids'));

  const stored = await runQwenVision(c.sessions.vision, {
    pixelValues,
    grids,
    layout: {
      windowIndex: Int32Array.from(image.readIntegers('window_index')),
      cuWindowSeqlens: Int32Array.from(image.readIntegers('cu_window_seqlens')),
      cuSeqlens: Int32Array.from(image.readIntegers('cu_seqlens')),
    },
    patchPositionIds: image.readBigInt64('vision_position_ids'),
  });
  checkFloat(check, 'image_embeds', stored.imageEmbeds, file.readFloat32('image_embeds'));
  if (file.has('vision_blocks_out') && stored.blocksOut)
    checkFloat(check, 'vision_blocks_out', stored.blocksOut, file.readFloat32('vision_blocks_out'));
  // What the pipeline feeds: our own layout and positions (equal to the stored ones when the checks above pass).
  const own = await runQwenVision(c.sessions.vision, {
    pixelValues,
    grids,
    layout: ours,
    patchPositionIds: ourPositions,
  });
  return { grids, ourImageEmbeds: own.imageEmbeds };
}

/** Positions exact, then the LLM fed the stored inputs (and once end to end with ours); floats under the gate. */
async function checkLanguage(c: CaseContext, vision: VisionResult): Promise<void> {
  const { check, config, file } = c;
  const inputIds = file.readIntegers('input_ids');
  const attentionMask = file.readIntegers('attention_mask');
  const ours = mropePositionIds(inputIds, attentionMask, vision.grids, config.vision.spatial_merge_size);
  check.exact('position_ids', ours.positionIds, file.readIntegers('position_ids'));
  check.exact('rope_deltas', [ours.ropeDelta], file.readIntegers('rope_deltas'));
  if (file.has('mm_token_type_ids')) {
    const types = inputIds.map((id) => (id === config.image_token_id ? 1 : 0));
    check.exact('mm_token_type_ids', types, file.readIntegers('mm_token_type_ids'));
  }

  const hidden = config.text.hidden_size;
  const llm = await runQwenLlm(c.sessions.llm, {
    inputIds: file.readBigInt64('input_ids'),
    attentionMask: file.readBigInt64('attention_mask'),
    positionIds: file.readBigInt64('position_ids'),
    imageEmbeds: file.readFloat32('image_embeds'),
    hidden,
    imageTokenId: config.image_token_id,
  });
  if (!llm.inputsEmbeds || !llm.hiddenAfterLayer0) throw new Error('the LLM graph lacks its debug outputs');
  checkFloat(check, 'inputs_embeds', llm.inputsEmbeds, file.readFloat32('inputs_embeds'));
  checkFloat(check, 'hidden_after_layer0', llm.hiddenAfterLayer0, file.readFloat32('hidden_after_layer0'));
  checkFloat(check, 'last_hidden_state', llm.lastHiddenState, file.readFloat32('last_hidden_state'));

  const [, maxTokens] = file.info('masks').shape;
  const padded = padStep1xEmbedding(llm.lastHiddenState, llm.sequenceLength, hidden, maxTokens);
  checkFloat(check, 'embs', padded.embs, file.readFloat32('embs'));
  check.exact('masks', padded.masks, file.readIntegers('masks'));

  const endToEnd = await runQwenLlm(c.sessions.llm, {
    inputIds,
    attentionMask,
    positionIds: ours.positionIds,
    imageEmbeds: vision.ourImageEmbeds,
    hidden,
    imageTokenId: config.image_token_id,
  });
  const e2e = padStep1xEmbedding(endToEnd.lastHiddenState, endToEnd.sequenceLength, hidden, maxTokens);
  checkFloat(check, 'embs_end_to_end', e2e.embs, file.readFloat32('embs'));
}

async function checkCase(c: Omit<CaseContext, 'file' | 'json'>, caseName: string, caseFile: string): Promise<void> {
  const file = SafetensorsFile.open(join(c.dir, caseFile));
  let image: SafetensorsFile | undefined;
  try {
    const json = JSON.parse(
      readFileSync(join(c.dir, caseFile.replace(/\.safetensors$/, '.json')), 'utf8'),
    ) as QwenCaseJson;
    const imageFile = json.image_file ?? (json.image_group ? `image_${json.image_group}.safetensors` : undefined);
    if (!imageFile) throw new Error(`${caseName}: the case JSON names no image file`);
    image = SafetensorsFile.open(join(c.dir, imageFile));
    const ctx: CaseContext = { ...c, json, file };
    await checkLanguage(ctx, await checkVision(ctx, image));
  } finally {
    image?.close();
    file.close();
  }
}

function weightsFileOf(dir: string, manifest: QwenTinyManifest, caseFile: string): string {
  const json = JSON.parse(readFileSync(join(dir, caseFile.replace(/\.safetensors$/, '.json')), 'utf8')) as QwenCaseJson;
  const file = json.weights ?? Object.values(manifest.weights ?? {})[0];
  if (!file) throw new Error(`${caseFile}: no weights file in the case JSON or the manifest`);
  return file;
}

/**
 * Checks every case of a `qwen25vl-tiny/1` set with Qwen graphs built from the directory's own config and weights:
 * window layout, positions and masks exact; vision output, image scatter, layer-0, final hidden states and the
 * 640 rows at ≤ 1e-4 relative L2. Inputs are fed as stored; our own layout/positions are compared and also run.
 */
export async function checkQwen25vlTinySet(
  dir: string,
  options: BuildOptions,
  gate = FLOAT_GATE,
): Promise<CaseResult[]> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as QwenTinyManifest;
  const config = normaliseQwenConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const sessionsByWeights = new Map<string, QwenSessions>();
  const results: CaseResult[] = [];
  try {
    for (const [caseName, entry] of Object.entries(manifest.cases)) {
      const check = new CaseChecker(caseName, gate);
      try {
        const weightsFile = weightsFileOf(dir, manifest, entry.file);
        let sessions = sessionsByWeights.get(weightsFile);
        if (!sessions) {
          const { modelsDir, manifest: models } = await buildQwenModelsForGoldenDir(dir, config, weightsFile, options);
          sessions = await openQwenSessions(modelsDir, models);
          sessionsByWeights.set(weightsFile, sessions);
        }
        await checkCase({ dir, config, sessions, check }, caseName, entry.file);
      } catch (err) {
        check.fail(caseName, (err as Error).message);
      }
      results.push(check.result());
    }
  } finally {
    for (const s of sessionsByWeights.values()) await Promise.all([s.vision.release(), s.llm.release()]);
  }
  return results;
}
