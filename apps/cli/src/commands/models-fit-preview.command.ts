import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LATENT_PREVIEW_FILE, type LatentPreviewMap } from '@step1x/model-format';
import { fitLatentPreviewOnVae } from '@step1x/pipeline';
import { UsageError } from './golden.command';

export const MODELS_FIT_PREVIEW_USAGE = `step1x models fit-preview --models <dir> [--out <file>] [--samples N] [--size PX]
  Fits the latent→RGB map of step previews on the folder's own VAE by least squares (synthetic images encoded and
  decoded; every 4th held out) and writes it to <dir>/${LATENT_PREVIEW_FILE} (or --out). Prints the held-out R².
  \`step1x models build\` runs it after every build. Defaults: 32 samples of 128 px.`;

export async function modelsFitPreviewCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string' },
      out: { type: 'string' },
      samples: { type: 'string' },
      size: { type: 'string' },
    },
  });
  if (!values.models) throw new UsageError(`--models is required\n${MODELS_FIT_PREVIEW_USAGE}`);
  const positive = (raw: string | undefined, name: string): number | undefined => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) throw new UsageError(`--${name} must be a positive integer`);
    return value;
  };
  const modelsDir = resolve(values.models);
  await writeLatentPreviewMap(modelsDir, {
    out: values.out === undefined ? undefined : resolve(values.out),
    samples: positive(values.samples, 'samples'),
    size: positive(values.size, 'size'),
  });
  return 0;
}

/** Fits, writes and reports the preview map of a models folder (also the last step of `models build`). */
export async function writeLatentPreviewMap(
  modelsDir: string,
  options: { out?: string; samples?: number; size?: number } = {},
): Promise<LatentPreviewMap> {
  const started = Date.now();
  const map = await fitLatentPreviewOnVae(modelsDir, { samples: options.samples, size: options.size });
  const out = options.out ?? join(modelsDir, LATENT_PREVIEW_FILE);
  writeFileSync(out, `${JSON.stringify(map, null, 2)}\n`);
  const { fit } = map;
  console.log(
    `latent preview map: R² ${fit.r2_heldout} on ${fit.heldout_pixels} held-out latent pixels (train ${fit.r2_train}, ` +
      `mean predictor ${fit.r2_heldout_mean_predictor}) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${out}`,
  );
  return map;
}
