/**
 * Full-size build benchmark: converts a checkpoint with the official v1.1 tensor table (24.9 GB of bf16, written
 * sparse so it needs no disk) plus the FLUX AE table into fp16 ONNX graphs with external data, and reports wall
 * time and peak RSS. Target: peak RSS under 1 GiB, i.e. far below the checkpoint size.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStep1XModels } from '../build/build-step1x';
import { namedConfig } from '../build/tiny-models';
import { Checkpoint } from '../weights/checkpoint';
import { writeSyntheticCheckpoint } from '../weights/synthetic-checkpoint';
import { checkpointTablesRoot, readTensorTable } from '../weights/tensor-table';

const RSS_TARGET = 1024 ** 3;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-full-'));
  try {
    const ditPath = join(dir, 'dit.safetensors');
    const vaePath = join(dir, 'vae.safetensors');
    writeSyntheticCheckpoint(ditPath, readTensorTable(join(checkpointTablesRoot(), 'step1x-edit-v1p1.tensors.json')));
    writeSyntheticCheckpoint(vaePath, readTensorTable(join(checkpointTablesRoot(), 'vae.tensors.json')));
    const inputBytes = statSync(ditPath).size + statSync(vaePath).size;
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    const started = Date.now();
    const dit = Checkpoint.open(ditPath);
    const vae = Checkpoint.open(vaePath);
    const manifest = await buildStep1XModels({
      config: namedConfig('full'),
      ditWeights: dit,
      vaeWeights: vae,
      outDir: join(dir, 'out'),
      options: { precision: 'fp16', attention: 'fused' },
      source: { dit: 'synthetic v1.1 table', vae: 'synthetic vae table' },
    });
    clearInterval(sampler);
    dit.close();
    vae.close();
    peak = Math.max(peak, process.resourceUsage().maxRSS * 1024);
    const outputBytes = Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0);
    const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
    console.log(
      `checkpoints ${gib(inputBytes)} GiB → ONNX ${gib(outputBytes)} GiB (fp16, external data, sha256 included)`,
    );
    console.log(
      `wall ${((Date.now() - started) / 1000).toFixed(1)} s, peak RSS ${(peak / 1024 ** 2).toFixed(0)} MiB (${((100 * peak) / inputBytes).toFixed(2)} % of the input)`,
    );
    if (peak > RSS_TARGET) {
      console.log(`FAIL: peak RSS above ${RSS_TARGET / 1024 ** 2} MiB`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
