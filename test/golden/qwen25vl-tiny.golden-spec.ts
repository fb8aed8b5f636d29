import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkQwen25vlTinySet, failedTensorNames } from '@step1x/golden-checks';
import { assertAllPass } from './golden-assertions';
import { ensureTinyQwenModels, renameQwenHf5ToPublished } from '@step1x/model-builder';
import {
  createOrtSession,
  expandPatches,
  mropePositionIds,
  runQwenLlm,
  runQwenVision,
  STEP1X_QWEN_IMAGE_CONFIG,
  visionPatchPositionIds,
  visionWindowLayout,
} from '@step1x/pipeline';
import { SafetensorsFile, TensorToWrite, goldenRoot, workspaceRoot, writeSafetensors } from '@step1x/tensors';

const dir = () => join(goldenRoot(), 'qwen25vl-tiny');
const caseCount = () => Object.keys(JSON.parse(readFileSync(join(dir(), 'manifest.json'), 'utf8')).cases).length;

/** Overwrites float number `index` of `tensor` in a copied weights file with `value`. */
function poke(weightsPath: string, tensor: string, index: number, value: number): void {
  const file = SafetensorsFile.open(weightsPath);
  const offset = file.info(tensor).offset + 4 * index;
  file.close();
  const fd = openSync(weightsPath, 'r+');
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  writeSync(fd, b, 0, 4, offset);
  closeSync(fd);
}

/** The set's weights re-saved under the released checkpoint's names, in two shards with an index. */
function writePublishedShards(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  const file = SafetensorsFile.open(from);
  const names = [...file.tensors.keys()];
  const shards: Map<string, TensorToWrite>[] = [new Map(), new Map()];
  const weightMap: Record<string, string> = {};
  names.forEach((name, i) => {
    const info = file.info(name);
    const published =
      renameQwenHf5ToPublished(name.replace(/\.nonzero_(rows|values)$/, '')) +
      (name.match(/\.nonzero_(rows|values)$/)?.[0] ?? '');
    // The sparse pair must stay together; everything else alternates between the shards.
    const shard = name.includes('.nonzero_') ? 0 : i % 2;
    shards[shard].set(published, { dtype: info.dtype, shape: info.shape, data: file.readBytes(name) });
    weightMap[published] = `model-0000${shard + 1}-of-00002.safetensors`;
  });
  file.close();
  shards.forEach((tensors, i) =>
    writeSafetensors(join(to, `model-0000${i + 1}-of-00002.safetensors`), tensors, { format: 'pt' }),
  );
  writeFileSync(join(to, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

describe('qwen25vl-tiny goldens (transformers Qwen2.5-VL, float32)', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'qwen-golden-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('passes every case at ≤ 1e-4 relative L2 (exact ids, positions, windows, masks) with plain attention', async () => {
    assertAllPass(await checkQwen25vlTinySet(dir(), { precision: 'fp32', attention: 'plain' }), caseCount());
  });

  it('passes every case with fused attention (MultiHeadAttention with the window and causal+padding biases)', async () => {
    assertAllPass(await checkQwen25vlTinySet(dir(), { precision: 'fp32', attention: 'fused' }), caseCount());
  });

  it('keeps the fp16 mixed-precision graphs within 3e-3 of the float32 reference', async () => {
    assertAllPass(await checkQwen25vlTinySet(dir(), { precision: 'fp16', attention: 'fused' }, 3e-3), caseCount());
  });

  it('passes on a rearranged set: published names in shards, renamed case and image files', async () => {
    const copy = join(tmp, 'rearranged');
    cpSync(dir(), copy, { recursive: true });
    writePublishedShards(join(copy, 'weights.safetensors'), join(copy, 'published'));
    rmSync(join(copy, 'weights.safetensors'));
    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
    manifest.weights = { '0': 'published' };
    const renamed: Record<string, unknown> = {};
    const copiedImages = new Set<string>();
    for (const [name, entry] of Object.entries(manifest.cases as Record<string, { file: string }>)) {
      const json = JSON.parse(readFileSync(join(copy, `${name}.json`), 'utf8'));
      const imageFile = `img-${json.image_file}`;
      if (!copiedImages.has(imageFile)) cpSync(join(copy, json.image_file), join(copy, imageFile));
      copiedImages.add(imageFile);
      json.weights = 'published';
      json.image_file = imageFile;
      writeFileSync(join(copy, `case-${name}.json`), JSON.stringify(json));
      renameSync(join(copy, entry.file), join(copy, `case-${name}.safetensors`));
      renamed[`case-${name}`] = { ...entry, file: `case-${name}.safetensors` };
    }
    manifest.cases = renamed;
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    const results = await checkQwen25vlTinySet(copy, { precision: 'fp32', attention: 'plain' });
    assertAllPass(results, caseCount());
    assert.ok(results.every((r) => r.case.startsWith('case-')));
  });

  it('fails where a perturbed weight acts: a vision weight fails image_embeds, a last-layer weight spares layer 0', async () => {
    const vision = join(tmp, 'vision-perturbed');
    cpSync(dir(), vision, { recursive: true });
    poke(join(vision, 'weights.safetensors'), 'model.visual.blocks.1.mlp.down_proj.weight', 7, 3.0);
    for (const r of await checkQwen25vlTinySet(vision, { precision: 'fp32', attention: 'plain' })) {
      assert.ok(failedTensorNames(r).includes('image_embeds'), `${r.case}: ${r.detail}`);
    }
    const text = join(tmp, 'text-perturbed');
    cpSync(dir(), text, { recursive: true });
    poke(join(text, 'weights.safetensors'), 'model.language_model.layers.1.mlp.down_proj.weight', 11, 3.0);
    for (const r of await checkQwen25vlTinySet(text, { precision: 'fp32', attention: 'plain' })) {
      const failed = failedTensorNames(r);
      assert.ok(failed.includes('last_hidden_state') && failed.includes('embs'), `${r.case}: ${r.detail}`);
      assert.ok(!failed.includes('hidden_after_layer0') && !failed.includes('image_embeds'), `${r.case}: ${r.detail}`);
    }
  });

  it('`npm run golden` prints one line per case and the summary line', () => {
    const cli = join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');
    const out = execFileSync(process.execPath, [cli, 'golden', dir(), '--quiet'], { encoding: 'utf8' });
    assert.match(out, /^make_it_pop {2}\S+ {2}\S+ {2}ok$/m);
    assert.match(out, new RegExp(`^${caseCount()} passed, 0 failed$`, 'm'));
  });

  it('builds and caches the tiny random Qwen models, which run a golden case and respond to the image', async () => {
    const options = { precision: 'fp32', attention: 'fused' } as const;
    const first = await ensureTinyQwenModels(7, options, join(tmp, 'cache'));
    const again = await ensureTinyQwenModels(7, options, join(tmp, 'cache'));
    assert.equal(again.modelsDir, first.modelsDir);
    assert.deepEqual(again.manifest.files, first.manifest.files);
    const vision = await createOrtSession(join(first.modelsDir, first.manifest.graphs.qwen_vision));
    const llm = await createOrtSession(join(first.modelsDir, first.manifest.graphs.qwen_llm));
    const image = SafetensorsFile.open(join(dir(), 'image_sq512_s512.safetensors'));
    const caseFile = SafetensorsFile.open(join(dir(), 'make_it_pop.safetensors'));
    try {
      const [t, h, w] = image.readIntegers('image_grid_thw');
      const grids = [{ t, h, w }];
      const pixels = expandPatches(
        image.readBytes('pixel_values_u8'),
        image.readFloat32('pixel_lut'),
        1176,
        STEP1X_QWEN_IMAGE_CONFIG,
      );
      const inputIds = caseFile.readIntegers('input_ids');
      const attentionMask = caseFile.readIntegers('attention_mask');
      const positions = mropePositionIds(inputIds, attentionMask, grids).positionIds;
      const hidden = first.manifest.config.text.hidden_size;
      const encode = async (pixelValues: Float32Array) => {
        const v = await runQwenVision(vision, {
          pixelValues,
          grids,
          layout: visionWindowLayout(grids),
          patchPositionIds: visionPatchPositionIds(grids),
        });
        const out = await runQwenLlm(llm, {
          inputIds,
          attentionMask,
          positionIds: positions,
          imageEmbeds: v.imageEmbeds,
          hidden,
        });
        return out.lastHiddenState;
      };
      const a = await encode(pixels);
      assert.equal(a.length, inputIds.length * hidden);
      assert.ok(a.every(Number.isFinite));
      assert.deepEqual(await encode(pixels), a);
      const darker = pixels.map((v) => v - 0.5);
      const b = await encode(darker);
      const lastRow = (x: Float32Array) => x.subarray((inputIds.length - 1) * hidden);
      assert.notDeepEqual(lastRow(b), lastRow(a), 'the last token must see the image');
      assert.deepEqual(
        b.subarray(0, 200 * hidden),
        a.subarray(0, 200 * hidden),
        'causal: text before the image ignores it',
      );
    } finally {
      image.close();
      caseFile.close();
      await vision.release();
      await llm.release();
    }
  });
});
