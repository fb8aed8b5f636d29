import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenRoot } from '@step1x/tensors';
import { MLLM_INPUTS_FORMAT, checkMllmInputsSet } from './mllm-inputs.check';

const SET = 'step1x-mllm-inputs';

interface Manifest {
  format: string;
  image_groups: Record<string, unknown>;
  cases: { case: string; json: string }[];
}

/** A copy of the set whose files are links to the originals, except the ones `edits` rewrites. */
function withAlteredSet(
  edits: Record<string, (text: string) => string>,
  run: (dir: string) => Promise<void>,
): Promise<void> {
  const source = join(goldenRoot(), SET);
  const dir = mkdtempSync(join(tmpdir(), 'mllm-set-'));
  for (const name of readdirSync(source)) {
    const edit = edits[name];
    if (edit) writeFileSync(join(dir, name), edit(readFileSync(join(source, name), 'utf8')));
    else symlinkSync(join(source, name), join(dir, name));
  }
  return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('checkMllmInputsSet', () => {
  it('passes every group and case of the public step1x-mllm-inputs set', async () => {
    const dir = join(goldenRoot(), SET);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.format, MLLM_INPUTS_FORMAT);
    const results = await checkMllmInputsSet(dir);
    assert.equal(results.length, 1 + Object.keys(manifest.image_groups).length + manifest.cases.length);
    for (const c of manifest.cases)
      assert.ok(
        results.some((r) => r.case === c.case),
        `no result for ${c.case}`,
      );
    const failed = results.filter((r) => !r.ok).map((r) => `${r.case}: ${r.detail}`);
    assert.deepEqual(failed, []);
  });

  it('fails a case whose instruction no longer produces the stored ids', async () => {
    await withAlteredSet(
      { 'snowy.json': (text) => text.replace('"instruction": "make it snowy!!"', '"instruction": "make it snowy!"') },
      async (dir) => {
        const results = await checkMllmInputsSet(dir);
        const snowy = results.find((r) => r.case === 'snowy');
        assert.equal(snowy?.ok, false);
        assert.match(snowy?.detail ?? '', /prompt_text|input_ids/);
        assert.ok(results.filter((r) => r.case !== 'snowy').every((r) => r.ok));
      },
    );
  });

  it('fails an image group whose recorded sizes disagree with our resize', async () => {
    await withAlteredSet(
      { 'image_w1920h1080_s512.json': (text) => text.replace('"vit_width": 644', '"vit_width": 672') },
      async (dir) => {
        const group = (await checkMllmInputsSet(dir)).find((r) => r.case === 'image_w1920h1080_s512');
        assert.equal(group?.ok, false);
        assert.match(group?.detail ?? '', /vit_image/);
      },
    );
  });

  it('fails a set whose data file does not match the manifest hash, and an unknown format', async () => {
    await withAlteredSet(
      { 'manifest.json': (text) => text.replace(/"sha256": "3399c5ca[0-9a-f]+"/, `"sha256": "${'0'.repeat(64)}"`) },
      async (dir) => {
        const results = await checkMllmInputsSet(dir);
        assert.equal(results.find((r) => r.case === 'let_her_cry')?.ok, false);
      },
    );
    await withAlteredSet(
      { 'manifest.json': (text) => text.replace(MLLM_INPUTS_FORMAT, 'step1x-mllm-inputs/9') },
      async (dir) => {
        const results = await checkMllmInputsSet(dir);
        assert.equal(results.length, 1);
        assert.equal(results[0].ok, false);
      },
    );
  });
});
