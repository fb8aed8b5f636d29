import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenRoot, SafetensorsFile } from '@step1x/tensors';
import { getSchedule, linspaceFloat32, timeShiftMu } from './time-shift';

/** Distance in float32 units in the last place (both values must be float32-representable). */
function ulpDistance(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat32(0, a);
  view.setFloat32(4, b);
  const toOrdered = (bits: number) => (bits < 0 ? -(bits & 0x7fffffff) : bits);
  return Math.abs(toOrdered(view.getInt32(0)) - toOrdered(view.getInt32(4)));
}

// docs/MODEL.md §17 test vectors (28 steps), printed there to 6 decimals.
const SPEC_VECTORS: Record<number, string> = {
  4096: '1, .988409, .976222, .963394, .949873, .935599, .920509, .904531, .887583, .869576, .850406, .829956, .808096, .784672, .759511, .732413, .703145, .671435, .636964, .599357, .558163, .512844, .462748, .407078, .344849, .274828, .195455, .104721, 0',
  2304: '1, .984365, .968066, .951058, .933294, .914724, .89529, .874931, .85358, .831161, .807594, .782787, .756641, .729042, .699867, .668978, .636218, .601411, .564361, .524843, .482601, .437345, .388739, .336398, .279873, .218642, .152093, .079499, 0',
  1024: '1, .980656, .960644, .939928, .918472, .896233, .87317, .849235, .824377, .798543, .771674, .743706, .71457, .684191, .652489, .619376, .584754, .548517, .510552, .47073, .428912, .384945, .338657, .289862, .238348, .183882, .126204, .06502, 0',
};

describe('getSchedule', () => {
  it('matches the golden sampler schedules within one float32 ulp', () => {
    const dir = join(goldenRoot(), 'step1x-tiny');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      cases: { case: string; file: string }[];
    };
    const samplerCases = manifest.cases.filter((c) => c.case.startsWith('sampler_'));
    assert.ok(samplerCases.length > 0, 'no sampler cases in the manifest');
    for (const entry of samplerCases) {
      const file = SafetensorsFile.open(join(dir, entry.file));
      try {
        const stored = file.readFloat32('timesteps');
        const imageSeqLen = file.info('latents').shape[1];
        const ours = getSchedule(stored.length - 1, imageSeqLen);
        assert.equal(ours.length, stored.length);
        for (let i = 0; i < stored.length; i++) {
          assert.ok(ulpDistance(ours[i], stored[i]) <= 1, `${entry.case}[${i}]: ${ours[i]} vs ${stored[i]}`);
        }
      } finally {
        file.close();
      }
    }
  });

  for (const [tokens, text] of Object.entries(SPEC_VECTORS)) {
    it(`matches the docs/MODEL.md §17 28-step vector for N=${tokens} to its printed precision`, () => {
      const expected = text.split(',').map(Number);
      const ours = getSchedule(28, Number(tokens));
      assert.equal(ours.length, 29);
      // 6 printed decimals (±5e-7) plus two float32 ulps of evaluation-order freedom near 1.
      for (let i = 0; i < 29; i++)
        assert.ok(Math.abs(ours[i] - expected[i]) <= 7e-7, `[${i}] ${ours[i]} vs ${expected[i]}`);
    });
  }

  it('runs from exactly 1 to exactly 0, strictly decreasing', () => {
    for (const [steps, tokens] of [
      [1, 16],
      [4, 24],
      [28, 999],
      [50, 4015],
      [100, 8192],
    ]) {
      const ts = getSchedule(steps, tokens);
      assert.equal(ts[0], 1);
      assert.equal(ts[steps], 0);
      for (let i = 1; i <= steps; i++) assert.ok(ts[i] < ts[i - 1], `steps=${steps} i=${i}`);
    }
  });

  it('shifts more for larger images (mu = 0.5 at 256 tokens, 1.15 at 4096)', () => {
    assert.ok(Math.abs(timeShiftMu(256) - 0.5) < 1e-15);
    assert.ok(Math.abs(timeShiftMu(4096) - 1.15) < 1e-15);
    assert.ok(getSchedule(28, 4096)[14] > getSchedule(28, 1024)[14]);
  });

  it('linspace is exact at both ends (the second half counts down from the end)', () => {
    const ls = linspaceFloat32(1, 0, 29);
    assert.equal(ls[0], 1);
    assert.equal(ls[28], 0);
    assert.equal(ls[27], Math.fround(1 / 28));
  });

  it('rejects bad arguments', () => {
    assert.throws(() => getSchedule(0, 16), RangeError);
    assert.throws(() => getSchedule(2.5, 16), RangeError);
    assert.throws(() => getSchedule(4, 0), RangeError);
  });
});
