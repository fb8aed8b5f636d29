import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FeedPerturbation, checkStep1XE2ESet, failedTensorNames } from '@step1x/golden-checks';
import { assertAllPass } from './golden-assertions';
import { Feeds, TensorData } from '@step1x/pipeline';
import { workspaceRoot } from '@step1x/tensors';

const dir = () => join(workspaceRoot(), 'test', 'golden-e2e', 'step1x-e2e-tiny');
const caseCount = () =>
  (JSON.parse(readFileSync(join(dir(), 'manifest.json'), 'utf8')) as { cases: unknown[] }).cases.length;
const plain = { precision: 'fp32', attention: 'plain' } as const;

/** `[2, …]` batch with its two rows exchanged. */
function swapRows(t: TensorData): TensorData {
  const half = t.data.length / 2;
  const swap = <T extends Float32Array | BigInt64Array>(src: T): T => {
    const out = src.slice() as T;
    out.set(src.subarray(half) as never, 0);
    out.set(src.subarray(0, half) as never, half);
    return out;
  };
  return { dims: t.dims, data: t.data instanceof Float32Array ? swap(t.data) : swap(t.data) };
}

/** The mistake of handing an HWC pixel buffer to a graph that reads CHW (same values, other order). */
function chwAsHwc(t: TensorData): TensorData {
  const [, channels, height, width] = t.dims;
  const plane = height * width;
  const data = new Float32Array(t.data.length);
  for (let c = 0; c < channels; c++)
    for (let p = 0; p < plane; p++) data[p * channels + c] = Number(t.data[c * plane + p]);
  return { dims: t.dims, data };
}

describe('step1x-e2e-tiny golden (official ImageGenerator.generate_image end to end, float32)', () => {
  it('every stage hand-off matches the official code with plain attention (≤ 1e-4 rel L2, images exact or ±1)', async () => {
    assertAllPass(await checkStep1XE2ESet(dir(), plain), caseCount());
  });

  it('matches with the fused attention graphs too', async () => {
    assertAllPass(await checkStep1XE2ESet(dir(), { precision: 'fp32', attention: 'fused' }), caseCount());
  });

  it('fails when cond and uncond are swapped between the MLLM and the sampler', async () => {
    const swapBranches: FeedPerturbation = (graph, feeds) =>
      graph === 'connector'
        ? ({ ...feeds, llm_embedding: swapRows(feeds.llm_embedding), mask: swapRows(feeds.mask) } as Feeds)
        : feeds;
    const results = await checkStep1XE2ESet(dir(), plain, { perturb: swapBranches });
    assert.equal(results.length, caseCount());
    for (const r of results) {
      assert.equal(r.ok, false, `${r.case} passed with cond and uncond swapped`);
      const failed = failedTensorNames(r);
      for (const t of ['llm_embedding[cond]', 'llm_embedding[uncond]', 'dit_output[0]', 'final_latent', 'output_image'])
        assert.ok(failed.includes(t), `${r.case}: ${t} should fail; failed: ${failed.join(', ')}`);
    }
  });

  it('fails when the VAE input is HWC where CHW is expected', async () => {
    const hwc: FeedPerturbation = (graph, feeds) =>
      graph === 'vae_encoder' ? ({ ...feeds, image: chwAsHwc(feeds.image) } as Feeds) : feeds;
    const results = await checkStep1XE2ESet(dir(), plain, { perturb: hwc });
    for (const r of results) {
      const failed = failedTensorNames(r);
      for (const t of ['vae_input', 'ref_latent', 'final_latent', 'output_image'])
        assert.ok(failed.includes(t), `${r.case}: ${t} should fail; failed: ${failed.join(', ')}`);
    }
  });

  it('fails a set whose weights are not the ones it was made with', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'e2e-golden-'));
    try {
      cpSync(dir(), tmp, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8'));
      manifest.weights.dit.sha256 = '0'.repeat(64);
      writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest));
      await assert.rejects(checkStep1XE2ESet(tmp, plain), /sha256/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('`npm run golden` checks the set and prints the summary line', () => {
    const cli = join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');
    const out = execFileSync(process.execPath, [cli, 'golden', dir(), '--quiet'], { encoding: 'utf8' });
    assert.match(out, /^landscape_ascii {2}\S+ {2}\S+ {2}ok$/m);
    assert.match(out, new RegExp(`^${caseCount()} passed, 0 failed$`, 'm'));
  });
});
