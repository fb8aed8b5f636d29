import { readFileSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTinyModels } from '@step1x/model-builder';
import { ImageFormat, Step1XEditPipeline, encodeImageBytes } from '@step1x/pipeline';
import { UsageError } from './golden.command';

export const EDIT_USAGE = `step1x edit <image> "<instruction>" -o out.png [--seed N] [--steps N] [--guidance X]
      [--size-level 512|768|1024] [--models DIR] [--threads N]
  Runs the whole Step1X-Edit pipeline locally. Without --models it builds (once, cached) tiny models with random
  weights: the output then comes from untrained weights and only shows that the pipeline runs.`;

const FORMATS: Record<string, ImageFormat> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };

function integer(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return v;
}

export async function editCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      'size-level': { type: 'string' },
      models: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (positionals.length !== 2 || !values.output) throw new UsageError(EDIT_USAGE);
  const [imagePath, instruction] = positionals;
  const format = FORMATS[extname(values.output).toLowerCase()];
  if (!format) throw new UsageError('-o must end in .png, .jpg, .jpeg or .webp');
  const guidance = values.guidance === undefined ? undefined : Number(values.guidance);
  if (guidance !== undefined && !(guidance >= 1 && guidance <= 20))
    throw new UsageError('--guidance must be a number in [1, 20]');
  const sizeLevel = integer('size-level', values['size-level'], 64, 2048);
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(imagePath));
  } catch {
    throw new UsageError(`cannot read ${imagePath}: no such file`);
  }

  let modelsDir = values.models ? resolve(values.models) : undefined;
  if (!modelsDir) {
    console.error(
      'note: no --models given, so tiny models with RANDOM, UNTRAINED weights are used (built once, cached).',
    );
    console.error('      The output shows that the pipeline runs end to end; it is not a meaningful edit.');
    modelsDir = (await ensureTinyModels()).modelsDir;
  }
  const pipeline = await Step1XEditPipeline.load(modelsDir, {
    intraOpThreads: integer('threads', values.threads, 0, 256),
  });
  try {
    const result = await pipeline.edit({
      image: bytes,
      instruction,
      seed: integer('seed', values.seed, 0, 2 ** 32 - 1),
      steps: integer('steps', values.steps, 1, 100),
      guidance,
      sizeLevel,
      onProgress: ({ step, total }) => process.stderr.write(`\rstep ${step}/${total}`),
    });
    process.stderr.write('\n');
    writeFileSync(resolve(values.output), await encodeImageBytes(result.image, format));
    const t = result.timings;
    console.log(
      `wrote ${values.output} (${result.image.width}×${result.image.height}; worked at ${result.workingSize.width}×${result.workingSize.height}, ` +
        `seed ${result.seed}, ${result.steps} steps, guidance ${result.guidance}${result.truncated ? ', instruction truncated' : ''})`,
    );
    console.log(
      `timings ms: preprocess ${t.preprocessMs}, mllm ${t.mllmMs}, vae-encode ${t.vaeEncodeMs}, denoise ${t.denoiseMs}, vae-decode ${t.vaeDecodeMs}, postprocess ${t.postprocessMs}, total ${t.totalMs}`,
    );
    return 0;
  } finally {
    await pipeline.release();
  }
}
