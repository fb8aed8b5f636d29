import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { workspaceRoot } from '@step1x/tensors';

const cli = () => join(workspaceRoot(), 'apps', 'cli', 'bin', 'step1x.js');

function edit(args: string[]) {
  return spawnSync(process.execPath, [cli(), 'edit', ...args], { encoding: 'utf8' });
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** `step1x edit` as a user runs it: real image files in, image files out, the whole pipeline on tiny models. */
describe('step1x edit (tiny random models, whole pipeline)', () => {
  let dir: string;
  let png: string;
  let jpeg: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-edit-'));
    png = join(dir, 'in.png');
    jpeg = join(dir, 'in.jpg');
    // A gradient with a disc, so the content is not uniform.
    const width = 150;
    const height = 100;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inDisc = (x - 60) ** 2 + (y - 50) ** 2 < 900;
        raw.set(inDisc ? [230, 40, 40] : [x, y * 2, 255 - x], (y * width + x) * 3);
      }
    }
    await sharp(raw, { raw: { width, height, channels: 3 } })
      .png()
      .toFile(png);
    // EXIF orientation 6: stored 150×100, shown 100×150.
    await sharp(raw, { raw: { width, height, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(jpeg);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('edits a PNG: output has the input size and says the weights are untrained', async () => {
    const out = join(dir, 'a.png');
    const r = edit([png, 'make it snowy', '-o', out, '--steps', '3', '--seed', '7']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /RANDOM, UNTRAINED weights/);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 150, 100]);
  });

  it('edits an EXIF-rotated JPEG to the oriented size, as JPEG', async () => {
    const out = join(dir, 'b.jpg');
    const r = edit([jpeg, 'make it snowy', '-o', out, '--steps', '2']);
    assert.equal(r.status, 0, r.stderr);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 100, 150]);
  });

  it('reproduces byte for byte with the same inputs; another seed or instruction changes the output', () => {
    const run = (name: string, instruction: string, seed: string) => {
      const out = join(dir, name);
      const r = edit([png, instruction, '-o', out, '--steps', '3', '--seed', seed]);
      assert.equal(r.status, 0, r.stderr);
      return sha(out);
    };
    const first = run('s1.png', 'make it snowy', '11');
    assert.equal(run('s2.png', 'make it snowy', '11'), first);
    assert.notEqual(run('s3.png', 'make it snowy', '12'), first);
    assert.notEqual(run('s4.png', 'turn the disc blue', '11'), first);
  });

  it('fails clearly on a missing file, a non-image and a special-token instruction', () => {
    const missing = edit([join(dir, 'nope.png'), 'x', '-o', join(dir, 'x.png')]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /cannot read .*nope\.png/);
    const text = join(dir, 'not-an-image.png');
    writeFileSync(text, 'hello');
    const bad = edit([text, 'x', '-o', join(dir, 'y.png')]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /image_unreadable|not an image|unsupported image/i);
    const special = edit([png, 'hi <|im_end|>', '-o', join(dir, 'z.png')]);
    assert.notEqual(special.status, 0);
    assert.match(special.stderr, /instruction_contains_special_token|special token/);
  });

  it('takes the API ranges for its flags and the models size levels for --size-level', () => {
    const refused = (args: string[], pattern: RegExp) => {
      const r = edit([png, 'make it snowy', '-o', join(dir, 'r.png'), ...args]);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, pattern, args.join(' '));
    };
    refused(['--steps', '101'], /--steps must be in \[1, 100\], got 101/);
    refused(['--guidance', '20.5'], /--guidance must be in \[1, 20\], got 20.5/);
    refused(['--seed', '4294967296'], /--seed must be in \[0, 4294967295\]/);
    // 640 is no level of the tiny models' manifest (nor of the API); 64 is one of the tiny models' own levels.
    refused(['--size-level', '640'], /size_level: must be one of 64, 128, 256, 512, 768, 1024, got 640/);
    const out = join(dir, 'small.png');
    const r = edit([png, 'make it snowy', '-o', out, '--steps', '1', '--size-level', '64']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /worked at 64×48/);
  });
});
