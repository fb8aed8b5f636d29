/**
 * Cost of step previews per step (CONTRACT.md: previews never slow a step by more than 5 %), on the tiny random
 * models (CPU), 28 steps at size_level 512 (a 64×64 latent grid; 1024 would be 128×128):
 *  - in the loop: what the sampler does at a preview step (x₀ estimate, unpack, latent→RGB map), timed in
 *    isolation over many repetitions, against the measured step time;
 *  - beside the loop: the JPEG encode (sharp, on libuv's pool), timed the same way;
 *  - end to end: the denoise stage with previews on every step vs off, interleaved runs, median.
 * The tiny models' step is far cheaper than the real model's (a GPU step of the 12B DiT is ~100–300 ms), so the
 * percentage here is an upper bound of the real one. Exits non-zero when the in-loop cost passes 5 % of a step.
 */
import { ensureTinyModels } from '@step1x/model-builder';
import { encodePreviewJpeg } from '@step1x/imaging';
import {
  cleanEstimate,
  latentToPreview,
  packedShape,
  readLatentPreviewMap,
  RgbImage,
  Step1XEditPipeline,
  unpackLatents,
} from '@step1x/pipeline';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STEPS = 28;
const TARGET_PERCENT = 5;

function testImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([i % 251, (i * 7) % 253, (i * 13) % 255], i * 3);
  return { width, height, data };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const { modelsDir } = await ensureTinyModels();
  const map = readLatentPreviewMap(modelsDir);
  if (!map) throw new Error(`${modelsDir} has no latent preview map`);
  const pipeline = await Step1XEditPipeline.load(modelsDir);
  const image = testImage(512, 512);
  const withPreviews: number[] = [];
  const without: number[] = [];
  let previews = 0;
  const jpegs: Promise<Buffer>[] = [];
  try {
    await pipeline.edit({ image: testImage(64, 64), instruction: 'warm up', steps: 1, sizeLevel: 64 });
    for (let i = 0; i < RUNS; i++) {
      const base = { image, instruction: 'make it snowy', seed: i, steps: STEPS, sizeLevel: 512 };
      without.push((await pipeline.edit(base)).timings.denoiseMs);
      const on = await pipeline.edit({
        ...base,
        previews: {
          every: 1,
          onPreview: ({ image: preview }) => {
            previews++;
            jpegs.push(encodePreviewJpeg(preview)); // as the worker does: handed off, not awaited in the loop
          },
        },
      });
      withPreviews.push(on.timings.denoiseMs);
      await Promise.all(jpegs.splice(0));
    }
  } finally {
    await pipeline.release();
  }

  // The in-loop work of one preview at this size, in isolation.
  const shape = { batch: 1, channels: map.channels, height: 64, width: 64 };
  const [, tokens, features] = packedShape(shape);
  const x = Float32Array.from({ length: tokens * features }, (_, i) => Math.sin(i));
  const v = Float32Array.from({ length: tokens * features }, (_, i) => Math.cos(i));
  const REPS = 200;
  let started = performance.now();
  let last: RgbImage | null = null;
  for (let r = 0; r < REPS; r++) last = latentToPreview(unpackLatents(cleanEstimate(x, v, 0.5), shape), 64, 64, map);
  const inLoopMs = (performance.now() - started) / REPS;
  started = performance.now();
  for (let r = 0; r < 50; r++) await encodePreviewJpeg(last!);
  const jpegMs = (performance.now() - started) / 50;

  const stepMs = median(without) / STEPS;
  const endToEnd = ((median(withPreviews) - median(without)) / median(without)) * 100;
  const inLoopPercent = (inLoopMs / stepMs) * 100;
  console.log(`tiny models, 512×512 → 64×64 latent grid, ${STEPS} steps, median of ${RUNS}:`);
  console.log(`  step ${stepMs.toFixed(1)} ms; previews made in the with-previews runs: ${previews}`);
  console.log(
    `  in the loop per preview (x₀ estimate + unpack + latent→RGB map): ${inLoopMs.toFixed(2)} ms = ` +
      `${inLoopPercent.toFixed(2)} % of a step (target ≤ ${TARGET_PERCENT} %)`,
  );
  console.log(`  JPEG encode per preview (libuv pool, beside the loop): ${jpegMs.toFixed(2)} ms`);
  console.log(
    `  denoise stage, previews every step vs none: ${median(withPreviews).toFixed(0)} vs ${median(without).toFixed(0)} ms ` +
      `(${endToEnd >= 0 ? '+' : ''}${endToEnd.toFixed(1)} %, includes run-to-run noise)`,
  );
  process.exitCode = inLoopPercent <= TARGET_PERCENT ? 0 : 1;
}

void main();
