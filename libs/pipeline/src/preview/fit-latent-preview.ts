import { LATENT_PREVIEW_FORMAT, type LatentPreviewFitReport, type LatentPreviewMap } from '@step1x/model-format';

/**
 * One VAE sample: a latent `[1, C, h, w]` and what the decoder made of it, `[1, 3, 8h, 8w]` (about [−1, 1]).
 * The fit pairs each latent pixel with the mean of the 8×8 decoded block it becomes.
 */
export interface VaeSample {
  latent: Float32Array;
  decoded: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Rows of the least-squares problem: per latent pixel, its C channels and the mean decoded RGB of its block. */
export interface PreviewDesign {
  channels: number;
  /** `[n][C]` latents. */
  x: Float32Array[];
  /** `[n][3]` targets. */
  y: Float32Array[];
}

/** Area-downsamples each decode to the latent grid (the decoder upsamples 8×) and pairs it with the latent. */
export function previewDesign(samples: readonly VaeSample[]): PreviewDesign {
  const channels = samples[0]?.channels ?? 0;
  const x: Float32Array[] = [];
  const y: Float32Array[] = [];
  for (const s of samples) {
    if (s.channels !== channels) throw new RangeError('samples differ in latent channels');
    const plane = s.height * s.width;
    const fullW = s.width * 8;
    const fullPlane = plane * 64;
    if (s.latent.length !== channels * plane || s.decoded.length !== 3 * fullPlane) {
      throw new RangeError('a sample latent or decode has the wrong size');
    }
    for (let i = 0; i < s.height; i++) {
      for (let j = 0; j < s.width; j++) {
        const p = i * s.width + j;
        const z = new Float32Array(channels);
        for (let c = 0; c < channels; c++) z[c] = s.latent[c * plane + p];
        const rgb = new Float32Array(3);
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let di = 0; di < 8; di++) {
            const rowBase = c * fullPlane + (i * 8 + di) * fullW + j * 8;
            for (let dj = 0; dj < 8; dj++) sum += s.decoded[rowBase + dj];
          }
          rgb[c] = sum / 64;
        }
        x.push(z);
        y.push(rgb);
      }
    }
  }
  return { channels, x, y };
}

/**
 * Ordinary least squares with a bias column, per output channel, via the normal equations (C + 1 unknowns, so the
 * (C+1)² system is tiny) solved by Gaussian elimination with partial pivoting. `ridge` (default 1e-6, relative to
 * the diagonal's mean) keeps a degenerate design (e.g. a constant latent channel of a random VAE) solvable.
 */
export function solvePreviewMap(design: PreviewDesign, ridge = 1e-6): { weights: number[][]; bias: number[] } {
  const n = design.x.length;
  const k = design.channels + 1;
  if (n < k) throw new RangeError(`${n} rows cannot determine ${k} unknowns`);
  const ata = Array.from({ length: k }, () => new Float64Array(k));
  const aty = Array.from({ length: 3 }, () => new Float64Array(k));
  const row = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    row.set(design.x[r]);
    row[k - 1] = 1;
    for (let a = 0; a < k; a++) {
      for (let b = a; b < k; b++) ata[a][b] += row[a] * row[b];
      for (let c = 0; c < 3; c++) aty[c][a] += row[a] * design.y[r][c];
    }
  }
  let trace = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < a; b++) ata[a][b] = ata[b][a];
    trace += ata[a][a];
  }
  const lambda = (ridge * trace) / k;
  for (let a = 0; a < k - 1; a++) ata[a][a] += lambda; // the bias is not shrunk
  const weights: number[][] = [];
  const bias: number[] = [];
  for (let c = 0; c < 3; c++) {
    const solution = solveLinear(
      ata.map((r) => Float64Array.from(r)),
      Float64Array.from(aty[c]),
    );
    weights.push(Array.from(solution.subarray(0, k - 1)));
    bias.push(solution[k - 1]);
  }
  return { weights, bias };
}

function solveLinear(a: Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-300) throw new RangeError('singular least-squares system');
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col];
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let sum = b[r];
    for (let c = r + 1; c < n; c++) sum -= a[r][c] * x[c];
    x[r] = sum / a[r][r];
  }
  return x;
}

/** R² per output channel of `predict` on a design: 1 − SSE/SST around the design's own mean. */
export function rSquared(design: PreviewDesign, predict: (z: Float32Array, channel: number) => number): number[] {
  const n = design.y.length;
  const out: number[] = [];
  for (let c = 0; c < 3; c++) {
    let mean = 0;
    for (const y of design.y) mean += y[c];
    mean /= n;
    let sse = 0;
    let sst = 0;
    for (let r = 0; r < n; r++) {
      const y = design.y[r][c];
      sse += (y - predict(design.x[r], c)) ** 2;
      sst += (y - mean) ** 2;
    }
    out.push(sst === 0 ? 0 : 1 - sse / sst);
  }
  return out;
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Fits the map on `train` and reports R² on `heldout` against the training mean as a constant predictor. */
export function fitLatentPreview(
  train: readonly VaeSample[],
  heldout: readonly VaeSample[],
  vaeDecoderSha256: string | null,
): LatentPreviewMap {
  const trainDesign = previewDesign(train);
  const heldoutDesign = previewDesign(heldout);
  const { weights, bias } = solvePreviewMap(trainDesign);
  const linear = (z: Float32Array, c: number) => {
    let v = bias[c];
    for (let i = 0; i < z.length; i++) v += weights[c][i] * z[i];
    return v;
  };
  const trainMean = [0, 1, 2].map((c) => mean(trainDesign.y.map((y) => y[c])));
  const perChannel = rSquared(heldoutDesign, linear);
  const fit: LatentPreviewFitReport = {
    vae_decoder_sha256: vaeDecoderSha256,
    train_pixels: trainDesign.x.length,
    heldout_pixels: heldoutDesign.x.length,
    r2_train: round(mean(rSquared(trainDesign, linear))),
    r2_heldout: round(mean(perChannel)),
    r2_heldout_per_channel: perChannel.map(round),
    r2_heldout_mean_predictor: round(mean(rSquared(heldoutDesign, (_z, c) => trainMean[c]))),
  };
  return { format: LATENT_PREVIEW_FORMAT, channels: trainDesign.channels, weights, bias, fit };
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;
