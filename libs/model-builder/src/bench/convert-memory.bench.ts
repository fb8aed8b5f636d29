/**
 * Memory bench of checkpoint conversion: writes a synthetic multi-GB bf16 checkpoint with random data (real DiT
 * tensor shapes, a prefix of the v1.1 table), converts every tensor to fp16 through ExternalDataWriter and reports
 * peak RSS against the file size. Conversion must stream: peak RSS stays far below the checkpoint size.
 *
 *   node libs/model-builder/dist/bench/convert-memory.bench.js
 *
 * Environment: CONVERT_BENCH_GB (checkpoint data size, default 4), CONVERT_BENCH_DIR (default os.tmpdir()),
 * CONVERT_BENCH_CHUNK_MB (writer chunk, default 16), CONVERT_BENCH_KEEP=1 keeps the files.
 * Exits 1 when peak RSS exceeds min(1 GiB, checkpoint size / 4) (at least 256 MiB, for small trial runs).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TensorSpec, transcode } from '@step1x/tensors';
import { ExternalDataWriter } from '../export/external-data';
import { Checkpoint } from '../weights/checkpoint';
import { writeSyntheticCheckpoint } from '../weights/synthetic-checkpoint';
import { byteLengthOf, checkpointTablesRoot, readTensorTable } from '../weights/tensor-table';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

class RssSampler {
  peak = process.memoryUsage.rss();
  samples = 0;
  sample(): void {
    const rss = process.memoryUsage.rss();
    this.samples++;
    if (rss > this.peak) this.peak = rss;
  }
}

function benchTable(targetBytes: number): Map<string, TensorSpec> {
  const full = readTensorTable(join(checkpointTablesRoot(), 'step1x-edit-v1p1.tensors.json'));
  const table = new Map<string, TensorSpec>();
  let bytes = 0;
  for (const [name, spec] of full) {
    if (bytes >= targetBytes) break;
    table.set(name, spec);
    bytes += byteLengthOf(spec);
  }
  return table;
}

/** Re-reads a few output ranges and compares them with a fresh conversion of the input: the bench must not lie. */
function spotCheck(ckpt: Checkpoint, outPath: string, refs: Map<string, { offset: number; length: number }>): number {
  const fd = openSync(outPath, 'r');
  let checked = 0;
  try {
    const names = [...refs.keys()];
    for (const name of [names[0], names[Math.floor(names.length / 2)], names[names.length - 1]]) {
      const ref = refs.get(name)!;
      const elements = Math.min(4096, ref.length / 2);
      const input = ckpt.readBytes(name, 0, elements * 2);
      const expected = new Uint8Array(elements * 2);
      transcode(input, 'BF16', expected, 'F16', elements);
      const actual = new Uint8Array(elements * 2);
      readSync(fd, actual, 0, actual.byteLength, ref.offset);
      if (!expected.every((b, i) => b === actual[i])) throw new Error(`converted bytes of ${name} do not match`);
      checked++;
    }
  } finally {
    closeSync(fd);
  }
  return checked;
}

function main(): void {
  const targetBytes = Number(process.env.CONVERT_BENCH_GB ?? 4) * GiB;
  const chunkBytes = Number(process.env.CONVERT_BENCH_CHUNK_MB ?? 16) * MiB;
  const dir = mkdtempSync(join(process.env.CONVERT_BENCH_DIR ?? tmpdir(), 'step1x-convert-bench-'));
  const ckptPath = join(dir, 'synthetic-bf16.safetensors');
  const outPath = join(dir, 'model.onnx.data');
  const sampler = new RssSampler();
  const rssAtStart = process.memoryUsage.rss();
  try {
    const table = benchTable(targetBytes);
    let started = Date.now();
    const info = writeSyntheticCheckpoint(ckptPath, table, { fill: 'random', seed: 1, chunkBytes });
    const writeSeconds = (Date.now() - started) / 1000;
    sampler.sample();
    const peakAfterWrite = Math.max(sampler.peak, process.resourceUsage().maxRSS * 1024);

    started = Date.now();
    const ckpt = Checkpoint.open(ckptPath);
    const refs = new Map<string, { offset: number; length: number }>();
    let largestTensor = 0;
    try {
      const writer = new ExternalDataWriter(outPath, { chunkBytes, onChunk: () => sampler.sample() });
      for (const [name, tensor] of ckpt.tensors) {
        refs.set(name, writer.appendTensor(ckpt.source(name), 'F16'));
        largestTensor = Math.max(largestTensor, tensor.byteLength);
      }
      const summary = writer.close();
      const convertSeconds = (Date.now() - started) / 1000;
      const checked = spotCheck(ckpt, outPath, refs);
      const maxRss = process.resourceUsage().maxRSS * 1024;
      const peak = Math.max(sampler.peak, maxRss);
      const report = {
        tensors: table.size,
        checkpointBytes: info.bytes,
        checkpointGiB: +(info.bytes / GiB).toFixed(2),
        largestTensorMiB: +(largestTensor / MiB).toFixed(1),
        chunkMiB: chunkBytes / MiB,
        outputBytes: summary.bytes,
        outputFileSize: statSync(outPath).size,
        skippedZeroBytes: summary.skippedZeroBytes,
        writeSeconds,
        convertSeconds,
        convertMiBPerSecond: +(info.dataBytes / MiB / convertSeconds).toFixed(1),
        rssAtStartMiB: +(rssAtStart / MiB).toFixed(1),
        peakRssWhileWritingMiB: +(peakAfterWrite / MiB).toFixed(1),
        peakRssSampledMiB: +(sampler.peak / MiB).toFixed(1),
        rssSamples: sampler.samples,
        maxRssMiB: +(maxRss / MiB).toFixed(1),
        peakRssOverCheckpoint: +(peak / info.bytes).toFixed(4),
        spotChecks: checked,
      };
      console.log(JSON.stringify(report, null, 2));
      const limit = Math.max(256 * MiB, Math.min(GiB, info.bytes / 4));
      if (peak > limit) {
        console.error(`FAIL: peak RSS ${(peak / MiB).toFixed(0)} MiB exceeds ${(limit / MiB).toFixed(0)} MiB`);
        process.exitCode = 1;
      } else {
        console.log(
          `ok: peak RSS ${(peak / MiB).toFixed(0)} MiB for a ${(info.bytes / GiB).toFixed(2)} GiB checkpoint`,
        );
      }
    } finally {
      ckpt.close();
    }
  } finally {
    if (process.env.CONVERT_BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

main();
