import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkStep1XTinySet } from '@step1x/golden-checks';
import { SafetensorsFile, goldenRoot, workspaceRoot } from '@step1x/tensors';
import { assertAllPass } from './golden-assertions';

const dir = () => join(goldenRoot(), 'step1x-tiny');

/** Cases the manifest lists (a set that lists none fails `assertAllPass`). */
const caseCount = () =>
  (JSON.parse(readFileSync(join(dir(), 'manifest.json'), 'utf8')) as { cases: unknown[] }).cases.length;

describe('step1x-tiny goldens (official connector, DiT, sampler, VAE)', () => {
  it('passes every case at ≤ 1e-4 relative L2 with plain attention', async () => {
    assertAllPass(await checkStep1XTinySet(dir(), { precision: 'fp32', attention: 'plain' }), caseCount());
  });

  it('passes every case with the fused (com.microsoft MultiHeadAttention) path', async () => {
    assertAllPass(await checkStep1XTinySet(dir(), { precision: 'fp32', attention: 'fused' }), caseCount());
  });

  it('keeps the fp16 mixed-precision graphs within 3e-3 of the float32 reference', async () => {
    assertAllPass(await checkStep1XTinySet(dir(), { precision: 'fp16', attention: 'fused' }, 3e-3), caseCount());
  });

  it('fails when one weight of the checkpoint is perturbed', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'golden-perturbed-'));
    try {
      cpSync(dir(), tmp, { recursive: true });
      const path = join(tmp, 'dit.safetensors');
      const file = SafetensorsFile.open(path);
      const info = file.info('single_blocks.1.linear2.weight');
      file.close();
      // Overwrite one float of the last DiT block in place with a value far outside the weights' range.
      const fd = openSync(path, 'r+');
      const b = Buffer.alloc(4);
      b.writeFloatLE(3.0);
      writeSync(fd, b, 0, 4, info.offset + 40);
      closeSync(fd);
      const results = await checkStep1XTinySet(tmp, { precision: 'fp32', attention: 'plain' });
      const failed = results.filter((r) => !r.ok).map((r) => r.case);
      for (const c of ['dit_forward_64x64', 'dit_forward_64x96', 'sampler_64x64', 'sampler_64x96']) {
        assert.ok(failed.includes(c), `${c} should fail; failed: ${failed.join(', ')}`);
      }
      assert.ok(results.find((r) => r.case === 'vae_64x64')?.ok, 'the VAE does not use that weight');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('`npm run golden` prints one line per case and the summary line', () => {
    const cli = join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');
    const out = execFileSync(process.execPath, [cli, 'golden', dir(), '--quiet'], { encoding: 'utf8' });
    assert.match(out, /^connector {2}\S+ {2}\S+ {2}ok$/m);
    assert.match(out, /^9 passed, 0 failed$/m);
  });

  it('exits non-zero on an unknown format', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'golden-unknown-'));
    try {
      writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ format: 'nope/9', cases: [] }));
      const cli = join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');
      const r = spawnSync(process.execPath, [cli, 'golden', tmp], { encoding: 'utf8' });
      assert.notEqual(r.status, 0);
      assert.match(r.stdout, /0 passed, 1 failed/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
