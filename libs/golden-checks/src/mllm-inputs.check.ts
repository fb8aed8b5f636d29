import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUNDLED_TOKENIZER_JSON_SHA256,
  EditPromptIds,
  InstructionRejectedError,
  QwenImageConfig,
  QwenTokenizer,
  STEP1X_PREFIX_SHA256,
  buildEditPromptIds,
  chatTemplateFromText,
  padStep1xEmbedding,
  qwenImageConfigFromPreprocessor,
  validateInstruction,
} from '@step1x/pipeline';
import { SafetensorsFile } from '@step1x/tensors';
import { CaseResult } from './case-result';
import { CheckedImageGroup, ImageGroupJson, bitsOf, checkImageGroup, sha256 } from './mllm-inputs.image-group';
import { CaseChecker } from './tensor-check';

/**
 * Checker for `step1x-mllm-inputs/1` sets (golden/step1x-mllm-inputs/README.md): everything the official
 * conditioner builds before the Qwen network runs, compared exactly, and the 217-drop / 640-pad rule through the
 * set's fake network. Everything comes from the directory: instructions, images, template, preprocessor config.
 */

export const MLLM_INPUTS_FORMAT = 'step1x-mllm-inputs/1';

interface MllmManifest {
  format: string;
  processor: {
    chat_template: string;
    chat_template_sha256: string;
    preprocessor_config: Record<string, unknown>;
    'AutoProcessor.from_pretrained_kwargs_from_official_init'?: { min_pixels?: number; max_pixels?: number };
    tokenizer_json_sha256_original: string;
  };
  prefix: { sha256: string };
  fake_model: { hidden_size: number };
  image_groups: Record<string, { file: string; json: string; sha256: string }>;
  cases: { case: string; file: string; json: string; sha256: string; image_group: string }[];
}

interface CaseJson {
  instruction: string;
  prompt_text: string;
  split_pieces: { text: string; ids: number[]; wrapper_stripped: boolean }[];
  splice: { vision_end_index_old: number; vision_end_index_split: number };
  outputs: { valid_length: number; truncated: boolean };
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Opens a set file after checking its bytes against the manifest's sha256. */
function openVerified(dir: string, name: string, expectedSha256: string): SafetensorsFile {
  const path = join(dir, name);
  const digest = sha256(readFileSync(path));
  if (digest !== expectedSha256) throw new Error(`${name}: sha256 ${digest} does not match the manifest`);
  return SafetensorsFile.open(path);
}

function compareText(check: CaseChecker, name: string, ours: string, ref: string): void {
  if (ours === ref) return;
  let i = 0;
  while (i < ours.length && ours[i] === ref[i]) i++;
  check.fail(
    name,
    `differs at char ${i}: ${JSON.stringify(ours.slice(i, i + 20))} vs ${JSON.stringify(ref.slice(i, i + 20))}`,
  );
}

/** The set's stand-in network (manifest `fake_model.encoding`): position and token-id digits, one per channel. */
export function fakeNetworkHidden(inputIds: readonly number[], hiddenSize: number): Float32Array {
  if (hiddenSize !== 8) throw new Error(`the fake-network encoding has 8 channels, the manifest says ${hiddenSize}`);
  const out = new Float32Array(inputIds.length * hiddenSize);
  inputIds.forEach((id, i) => {
    out.set(
      [
        i % 16,
        Math.floor(i / 16) % 16,
        Math.floor(i / 256),
        id % 16,
        Math.floor(id / 16) % 16,
        Math.floor(id / 256) % 16,
        Math.floor(id / 4096) % 16,
        Math.floor(id / 65536),
      ],
      i * hiddenSize,
    );
  });
  return out;
}

function imageConfigOf(manifest: MllmManifest): QwenImageConfig {
  const base = qwenImageConfigFromPreprocessor(manifest.processor.preprocessor_config);
  const range = manifest.processor['AutoProcessor.from_pretrained_kwargs_from_official_init'] ?? {};
  return { ...base, minPixels: range.min_pixels ?? base.minPixels, maxPixels: range.max_pixels ?? base.maxPixels };
}

function checkSetup(manifest: MllmManifest, check: CaseChecker): QwenTokenizer {
  if (manifest.processor.tokenizer_json_sha256_original !== BUNDLED_TOKENIZER_JSON_SHA256) {
    // Not a failure by itself: another tokenizer.json with the same BPE gives the same ids, which are compared exactly.
    check.note(
      `set made with tokenizer.json ${manifest.processor.tokenizer_json_sha256_original}; ours is ${BUNDLED_TOKENIZER_JSON_SHA256}`,
    );
  }
  if (manifest.prefix.sha256 !== STEP1X_PREFIX_SHA256) {
    check.fail('PREFIX', `set's sha256 ${manifest.prefix.sha256} differs from ours`);
  }
  const template = chatTemplateFromText(manifest.processor.chat_template, 'manifest.json processor.chat_template');
  if (template.sha256 !== manifest.processor.chat_template_sha256) {
    check.fail('chat_template', 'text does not hash to chat_template_sha256');
  }
  return QwenTokenizer.bundled().withChatTemplate(template);
}

function checkPieces(check: CaseChecker, prompt: EditPromptIds, ref: CaseJson['split_pieces']): void {
  if (prompt.pieces.length !== ref.length) {
    check.fail('split_pieces', `${prompt.pieces.length} pieces, reference ${ref.length}`);
    return;
  }
  prompt.pieces.forEach((piece, k) => {
    compareText(check, `split_pieces[${k}].text`, piece.text, ref[k].text);
    check.exact(`split_pieces[${k}].ids`, piece.ids, ref[k].ids);
    if (piece.wrapperStripped !== ref[k].wrapper_stripped) check.fail(`split_pieces[${k}].wrapper_stripped`, 'differs');
  });
}

function checkCase(
  file: SafetensorsFile,
  json: CaseJson,
  tokenizer: QwenTokenizer,
  group: CheckedImageGroup,
  hiddenSize: number,
  check: CaseChecker,
): void {
  const { prepared } = group;
  const prompt = buildEditPromptIds(tokenizer, json.instruction, prepared.numImageTokens, {
    skipInstructionPolicy: true,
  });
  compareText(check, 'prompt_text', prompt.promptText, json.prompt_text);
  checkPieces(check, prompt, json.split_pieces);
  check.exact('old_input_ids', prompt.oldInputIds, file.readIntegers('old_input_ids'));
  check.exact('split_input_ids', prompt.splitInputIds, file.readIntegers('split_input_ids'));
  check.exact(
    'splice',
    [prompt.visionEndIndexOld, prompt.visionEndIndexSplit],
    [json.splice.vision_end_index_old, json.splice.vision_end_index_split],
  );
  check.exact('input_ids', prompt.inputIds, file.readIntegers('input_ids'));
  check.exact('attention_mask', prompt.attentionMask, file.readIntegers('attention_mask'));
  check.exact(
    'image_grid_thw',
    [prepared.grid.t, prepared.grid.h, prepared.grid.w],
    file.readIntegers('image_grid_thw'),
  );

  const padded = padStep1xEmbedding(fakeNetworkHidden(prompt.inputIds, hiddenSize), prompt.inputIds.length, hiddenSize);
  check.exact('embs (f32 bits)', bitsOf(padded.embs), bitsOf(file.readFloat32('embs')));
  check.exact('masks', padded.masks, file.readIntegers('masks'));
  check.exact('valid_length', [padded.window.validLength], [json.outputs.valid_length]);
  if (padded.window.truncated !== json.outputs.truncated)
    check.fail('truncated', `ours ${padded.window.truncated}, reference ${json.outputs.truncated}`);
  try {
    validateInstruction(tokenizer, json.instruction);
  } catch (err) {
    if (!(err instanceof InstructionRejectedError)) throw err;
    check.note(`the service would refuse this instruction (${err.code}); checked as the official code runs it`);
  }
}

function failedResult(name: string, err: unknown): CaseResult {
  return { case: name, metric: 'exact', worst: '-', ok: false, detail: `FAIL cannot run: ${(err as Error).message}` };
}

/** Checks every image group and case a `step1x-mllm-inputs/1` manifest lists; one result per group and case. */
export async function checkMllmInputsSet(dir: string): Promise<CaseResult[]> {
  let manifest: MllmManifest;
  try {
    manifest = readJson<MllmManifest>(join(dir, 'manifest.json'));
    if (manifest.format !== MLLM_INPUTS_FORMAT)
      throw new Error(`format ${manifest.format}, expected ${MLLM_INPUTS_FORMAT}`);
  } catch (err) {
    return [failedResult('manifest', err)];
  }
  const results: CaseResult[] = [];
  const setupCheck = new CaseChecker('tokenizer+template');
  let tokenizer: QwenTokenizer;
  let imageConfig: QwenImageConfig;
  try {
    tokenizer = checkSetup(manifest, setupCheck);
    imageConfig = imageConfigOf(manifest);
  } catch (err) {
    return [failedResult('tokenizer+template', err)];
  }
  results.push(setupCheck.result());

  const groups = new Map<string, CheckedImageGroup>();
  for (const [name, entry] of Object.entries(manifest.image_groups)) {
    const check = new CaseChecker(`image_${name}`);
    try {
      const file = openVerified(dir, entry.file, entry.sha256);
      try {
        groups.set(
          name,
          checkImageGroup(dir, file, readJson<ImageGroupJson>(join(dir, entry.json)), imageConfig, check),
        );
      } finally {
        file.close();
      }
      results.push(check.result());
    } catch (err) {
      results.push(failedResult(check.caseName, err));
    }
  }

  for (const entry of manifest.cases) {
    try {
      const group = groups.get(entry.image_group);
      if (!group) throw new Error(`image group ${entry.image_group} could not be prepared`);
      const check = new CaseChecker(entry.case);
      const file = openVerified(dir, entry.file, entry.sha256);
      try {
        checkCase(
          file,
          readJson<CaseJson>(join(dir, entry.json)),
          tokenizer,
          group,
          manifest.fake_model.hidden_size,
          check,
        );
      } finally {
        file.close();
      }
      results.push(check.result());
    } catch (err) {
      results.push(failedResult(entry.case, err));
    }
  }
  return results;
}
