import { readFileSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EDIT_PARAMS, editParamProblems } from '@step1x/contracts';
import { ImageFormat, encodeImageBytes } from '@step1x/imaging';
import { ensureTinyModels } from '@step1x/model-builder';
import { EditRequestError, Step1XEditPipeline } from '@step1x/pipeline';
import { UsageError } from './golden.command';

const { seed: SEED, steps: STEPS, guidance: GUIDANCE, sizeLevel: SIZE_LEVEL } = EDIT_PARAMS;

export const EDIT_USAGE = `step1x edit <image> "<instruction>" -o out.png [--seed ${SEED.min}..${SEED.max}]
      [--steps ${STEPS.min}..${STEPS.max}] [--guidance ${GUIDANCE.min}..${GUIDANCE.max}]
      [--size-level ${SIZE_LEVEL.levels.join('|')}, or another level the models' manifest declares] [--models DIR]
      [--threads N]
  Runs the whole Step1X-Edit pipeline locally (defaults: seed ${SEED.default}, ${STEPS.default} steps, guidance
  ${GUIDANCE.default}, the models' default size level). Without --models it builds (once, cached) tiny models with
  random weights: the output then comes from untrained weights and only shows that the pipeline runs.`;

const FORMATS: Record<string, ImageFormat> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };

function integer(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return v;
}

/** A number flag, or undefined; its range is checked with the API's (`editParamProblems`). */
function numberFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || Number.isNaN(v)) throw new UsageError(`--${name} must be a number, got ${raw}`);
  return v;
}

function flagOf(param: string): string {
  return param === 'instruction' ? 'the instruction' : `--${param.replace('_', '-')}`;
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
  const params = {
    instruction,
    seed: numberFlag('seed', values.seed),
    steps: numberFlag('steps', values.steps),
    guidance: numberFlag('guidance', values.guidance),
    sizeLevel: numberFlag('size-level', values['size-level']),
  };
  // Every range but the size level's (the models' manifest says which levels) is checked before any model loads.
  const [problem] = editParamProblems({ ...params, sizeLevel: undefined });
  if (problem) throw new UsageError(`${flagOf(problem.param)} ${problem.message}`);
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
    try {
      pipeline.checkRequest(params);
    } catch (error) {
      if (error instanceof EditRequestError) throw new UsageError(error.message);
      throw error;
    }
    const result = await pipeline.edit({
      image: bytes,
      ...params,
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
