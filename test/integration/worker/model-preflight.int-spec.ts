import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeImageBytes } from '@step1x/imaging';
import { loadWarmEditors, ModelPreflightError, SILENT_LOGGER } from '@step1x/worker';
import { tinyModelsDir } from '../../support/tiny-models';

/** The boot check against ONNX Runtime and the tiny models (built once, cached). */
describe('model preflight (ORT, tiny models)', () => {
  let modelsDir: string;
  let scratch: string;

  before(async () => {
    modelsDir = await tinyModelsDir();
    scratch = mkdtempSync(join(tmpdir(), 'step1x-preflight-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const refusal =
    (pattern: RegExp, code = 'models_invalid') =>
    (error: unknown) =>
      error instanceof ModelPreflightError && error.code === code && pattern.test(error.message);

  it('loads one warm editor per slot, and each runs an edit', async () => {
    const editors = await loadWarmEditors(modelsDir, 2, SILENT_LOGGER, { allowRandomWeights: true });
    try {
      assert.equal(editors.length, 2);
      assert.deepEqual(
        editors.map((editor) => editor.randomWeights),
        [true, true],
      );
      const steps: number[] = [];
      const png = await encodeImageBytes({ width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(90) }, 'png');
      const edited = await editors[1].edit({
        image: png,
        instruction: 'make it blue',
        seed: 1,
        steps: 2,
        guidance: 6,
        sizeLevel: 64,
        format: 'png',
        signal: new AbortController().signal,
        onProgress: (step) => steps.push(step),
      });
      assert.deepEqual(steps, [1, 2]);
      assert.equal(edited.randomWeights, true, 'every output of random-weight models says so');
      assert.deepEqual([edited.width, edited.height, edited.contentType], [64, 48, 'image/png']);
      assert.deepEqual([...edited.bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    } finally {
      await Promise.all(editors.map((editor) => editor.release()));
    }
  });

  it('refuses the tiny random-weight models unless random weights are allowed (local mode, tests)', async () => {
    await assert.rejects(
      loadWarmEditors(modelsDir, 1, SILENT_LOGGER),
      refusal(/RANDOM weights.*only in local mode/, 'models_random_weights'),
    );
  });

  it('refuses a missing folder, a folder without the Qwen manifest, and one whose graphs are missing', async () => {
    await assert.rejects(loadWarmEditors(join(scratch, 'absent'), 1, SILENT_LOGGER), refusal(/does not exist/));
    copyFileSync(join(modelsDir, 'manifest.json'), join(scratch, 'manifest.json'));
    await assert.rejects(loadWarmEditors(scratch, 1, SILENT_LOGGER), refusal(/lacks qwen-manifest\.json/));
    copyFileSync(join(modelsDir, 'qwen-manifest.json'), join(scratch, 'qwen-manifest.json'));
    await assert.rejects(loadWarmEditors(scratch, 1, SILENT_LOGGER), refusal(/cannot load the models/));
  });
});
