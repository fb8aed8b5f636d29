/**
 * End-to-end pipeline benchmark on the tiny random models (CPU): median per-stage timings of a 28-step edit at
 * size_level 512 and the process's peak RSS. Tiny models measure the pipeline's own overhead (preprocessing, the
 * sampler loop, conversions), not the cost of the real networks.
 */
import { ensureTinyModels } from '@step1x/model-builder';
import { EditTimings, RgbImage, Step1XEditPipeline } from '@step1x/pipeline';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function testImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([i % 251, (i * 7) % 253, (i * 13) % 255], i * 3);
  return { width, height, data };
}

async function main(): Promise<void> {
  const { modelsDir } = await ensureTinyModels();
  const pipeline = await Step1XEditPipeline.load(modelsDir);
  const runs: EditTimings[] = [];
  try {
    await pipeline.edit({ image: testImage(64, 64), instruction: 'warm up', steps: 1, sizeLevel: 64 });
    for (let i = 0; i < RUNS; i++) {
      const r = await pipeline.edit({
        image: testImage(1024, 768),
        instruction: 'make it snowy',
        seed: i,
        steps: 28,
        sizeLevel: 512,
      });
      runs.push(r.timings);
    }
  } finally {
    await pipeline.release();
  }
  const median = (key: keyof EditTimings) => runs.map((t) => t[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const keys: (keyof EditTimings)[] = [
    'preprocessMs',
    'mllmMs',
    'vaeEncodeMs',
    'denoiseMs',
    'vaeDecodeMs',
    'postprocessMs',
    'totalMs',
  ];
  console.log(`tiny models, 1024×768 source → 592×432 working size, 28 steps, median of ${RUNS}:`);
  console.log(keys.map((k) => `${k.replace('Ms', '')} ${median(k)} ms`).join(', '));
  console.log(
    `per step ${(median('denoiseMs') / 28).toFixed(1)} ms; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
}

void main();
