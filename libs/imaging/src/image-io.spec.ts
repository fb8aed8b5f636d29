import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import {
  decodeImage,
  encodeImageBytes,
  ImageInputError,
  ImageInputErrorCode,
  INPUT_IMAGE_FORMATS,
  InputImageFormat,
  sniffInputFormat,
} from './image-io';
import { RgbImage } from './rgb-image';

type Channels = 1 | 2 | 3 | 4;

function raw(width: number, height: number, channels: Channels, pixel: (x: number, y: number) => number[]): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * channels);
  return data;
}

function fromRaw(data: Buffer, width: number, height: number, channels: Channels): sharp.Sharp {
  return sharp(data, { raw: { width, height, channels } });
}

function at(image: RgbImage, x: number, y: number): number[] {
  const p = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(p, p + 3));
}

function near(actual: number[], expected: number[], tolerance: number): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
}

async function rejectsWith(promise: Promise<unknown>, code: ImageInputErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ImageInputError, `expected ImageInputError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** A valid PNG whose header declares width×height but whose pixel data is a few hundred bytes. */
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(4096))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const noisy = (x: number, y: number, c: number) => (x * 37 + y * 101 + c * 53 + ((x * y) % 17) * 11) % 256;

describe('decodeImage', () => {
  it('flattens alpha onto white', async () => {
    const rgba = raw(
      3,
      1,
      4,
      (x) =>
        [
          [200, 10, 20, 255],
          [0, 0, 255, 0],
          [0, 0, 0, 128],
        ][x],
    );
    const image = await decodeImage(await fromRaw(rgba, 3, 1, 4).png().toBuffer());
    assert.deepEqual([image.width, image.height, image.data.length], [3, 1, 9]);
    assert.deepEqual(at(image, 0, 0), [200, 10, 20]);
    assert.deepEqual(at(image, 1, 0), [255, 255, 255]);
    assert.ok(near(at(image, 2, 0), [127, 127, 127], 1), `half-transparent black gave ${at(image, 2, 0)}`);
  });

  it('applies the EXIF orientation (6: rotate 90° clockwise)', async () => {
    // 40×20, left half red, right half blue; displayed upright it is 20×40 with red on top.
    const rgb = raw(40, 20, 3, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await fromRaw(rgb, 40, 20, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const image = await decodeImage(jpeg);
    assert.deepEqual([image.width, image.height], [20, 40]);
    assert.ok(near(at(image, 10, 8), [255, 0, 0], 40), `top is ${at(image, 10, 8)}`);
    assert.ok(near(at(image, 10, 32), [0, 0, 255], 40), `bottom is ${at(image, 10, 32)}`);
  });

  it('turns a 16-bit PNG into 8-bit RGB', async () => {
    const rgb = raw(16, 8, 3, (x, y) => [0, 1, 2].map((c) => noisy(x, y, c)));
    const png16 = await fromRaw(rgb, 16, 8, 3).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png16).metadata()).depth, 'ushort');
    const image = await decodeImage(png16);
    assert.deepEqual(Buffer.from(image.data), rgb);
  });

  it('expands greyscale to three equal channels', async () => {
    const grey = raw(9, 7, 1, (x, y) => [noisy(x, y, 0)]);
    const image = await decodeImage(await fromRaw(grey, 9, 7, 1).png().toBuffer());
    assert.equal(image.data.length, 9 * 7 * 3);
    for (let i = 0; i < 9 * 7; i++)
      assert.deepEqual(Array.from(image.data.subarray(i * 3, i * 3 + 3)), [grey[i], grey[i], grey[i]]);
  });

  it('converts palette PNGs and CMYK JPEGs to sRGB RGB', async () => {
    const fourColours = raw(
      8,
      8,
      3,
      (x, y) =>
        [
          [255, 0, 0],
          [0, 255, 0],
          [0, 0, 255],
          [255, 255, 255],
        ][(x >> 2) + 2 * (y >> 2)],
    );
    const palette = await fromRaw(fourColours, 8, 8, 3).png({ palette: true }).toBuffer();
    assert.equal((await sharp(palette).metadata()).isPalette, true);
    const fromPalette = await decodeImage(palette);
    assert.ok(near(at(fromPalette, 1, 1), [255, 0, 0], 2) && near(at(fromPalette, 6, 6), [255, 255, 255], 2));

    const cmyk = await fromRaw(fourColours, 8, 8, 3).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const fromCmyk = await decodeImage(cmyk);
    assert.deepEqual([fromCmyk.width, fromCmyk.height, fromCmyk.data.length], [8, 8, 192]);
    assert.ok(near(at(fromCmyk, 6, 6), [255, 255, 255], 24), `white became ${at(fromCmyk, 6, 6)}`);
  });

  it('uses the first frame of an animation', async () => {
    const red = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const blue = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#0000ff' } })
      .png()
      .toBuffer();
    const gif = await sharp([red, blue], { join: { animated: true } })
      .gif()
      .toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const image = await decodeImage(gif);
    assert.deepEqual([image.width, image.height], [8, 6]);
    assert.ok(near(at(image, 4, 3), [255, 0, 0], 8), `first frame pixel ${at(image, 4, 3)}`);
  });

  it('refuses a small file declaring a huge canvas as image_too_large', async () => {
    const bomb = pngDeclaring(100_000, 100_000);
    assert.ok(bomb.length < 1000);
    await rejectsWith(decodeImage(bomb), 'image_too_large');
  });

  it('applies a custom pixel limit', async () => {
    const png = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    await rejectsWith(decodeImage(png, { maxPixels: 9_999 }), 'image_too_large');
    assert.equal((await decodeImage(png, { maxPixels: 10_000 })).width, 100);
  });

  it('refuses an aspect ratio over 100:1 and accepts exactly 100:1', async () => {
    const make = (w: number, h: number) =>
      sharp({ create: { width: w, height: h, channels: 3, background: '#123456' } })
        .png()
        .toBuffer();
    await rejectsWith(decodeImage(await make(1000, 5)), 'image_aspect_ratio');
    await rejectsWith(decodeImage(await make(5, 1000)), 'image_aspect_ratio');
    assert.deepEqual([(await decodeImage(await make(500, 5))).width], [500]);
  });

  it('refuses truncated, corrupt and non-image bytes as image_unreadable', async () => {
    const rgb = raw(128, 128, 3, (x, y) => [0, 1, 2].map((c) => noisy(x, y, c)));
    const jpeg = await fromRaw(rgb, 128, 128, 3).jpeg({ quality: 95 }).toBuffer();
    const png = await fromRaw(rgb, 128, 128, 3).png().toBuffer();
    await rejectsWith(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.7))), 'image_unreadable');
    await rejectsWith(decodeImage(png.subarray(0, png.length - 100)), 'image_unreadable');
    await rejectsWith(decodeImage(Buffer.from('definitely not an image')), 'image_unreadable');
    await rejectsWith(decodeImage(new Uint8Array(0)), 'image_unreadable');
    await rejectsWith(decodeImage(Buffer.from('%PDF-1.7\n1 0 obj')), 'image_unreadable');
  });

  it('refuses SVG (which librsvg could resolve against other files or URLs) as image_format_unsupported', async () => {
    const external =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">' +
      '<image xlink:href="http://127.0.0.1:9/secret.png" width="64" height="64"/></svg>';
    const selfContained =
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';
    // sharp itself would decode the self-contained one: the refusal is ours, before sharp sees the bytes.
    assert.equal((await sharp(Buffer.from(selfContained)).metadata()).format, 'svg');
    for (const text of [external, selfContained, `\ufeff \n<?xml version="1.0"?>${selfContained}`]) {
      await rejectsWith(decodeImage(Buffer.from(text)), 'image_format_unsupported');
    }
  });

  it('decodes each accepted format (png, jpeg, webp, gif, tiff) and sniffs it from its signature', async () => {
    const base = () => sharp({ create: { width: 20, height: 10, channels: 3, background: '#336699' } });
    const files: Record<InputImageFormat, Buffer> = {
      png: await base().png().toBuffer(),
      jpeg: await base().jpeg().toBuffer(),
      webp: await base().webp().toBuffer(),
      gif: await base().gif().toBuffer(),
      tiff: await base().tiff().toBuffer(),
    };
    for (const format of INPUT_IMAGE_FORMATS) {
      assert.equal(sniffInputFormat(files[format]), format);
      const image = await decodeImage(files[format]);
      assert.deepEqual([image.width, image.height], [20, 10], format);
    }
  });
});

describe('encodeImageBytes', () => {
  const image: RgbImage = {
    width: 24,
    height: 16,
    data: raw(24, 16, 3, (x, y) => [0, 1, 2].map((c) => noisy(x, y, c))),
  };

  it('writes lossless PNG that decodes to the same pixels', async () => {
    const png = await encodeImageBytes(image, 'png');
    assert.deepEqual(Array.from(png.subarray(1, 4)), [0x50, 0x4e, 0x47]);
    assert.deepEqual(Buffer.from((await decodeImage(png)).data), Buffer.from(image.data));
  });

  it('writes JPEG and WebP of the same size, honouring quality', async () => {
    const jpegLow = await encodeImageBytes(image, 'jpeg', 10);
    const jpegHigh = await encodeImageBytes(image, 'jpeg', 100);
    assert.deepEqual(Array.from(jpegHigh.subarray(0, 2)), [0xff, 0xd8]);
    assert.ok(jpegLow.length < jpegHigh.length);
    const webp = await encodeImageBytes(image, 'webp');
    assert.equal(webp.subarray(8, 12).toString('ascii'), 'WEBP');
    for (const bytes of [jpegHigh, webp]) {
      const decoded = await decodeImage(bytes);
      assert.deepEqual([decoded.width, decoded.height], [24, 16]);
    }
  });

  it('rejects bad quality and malformed images', async () => {
    await assert.rejects(encodeImageBytes(image, 'jpeg', 0), RangeError);
    await assert.rejects(encodeImageBytes({ width: 2, height: 2, data: new Uint8Array(3) }, 'png'), RangeError);
  });
});
