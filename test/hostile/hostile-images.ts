// Image inputs for the hostile corpus: decompression bombs (headers that claim huge sizes, and one real
// zero-filled bomb), truncated and polyglot files, animated, CMYK, 16-bit and EXIF-rotated images. Built at run
// time (sharp and hand-written headers), nothing binary is committed.
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

export interface HostileImage {
  name: string;
  bytes: Buffer;
  /** The MIME type a client would send. */
  type: string;
  /** A valid image the service should edit (the corpus then follows it to `succeeded`). */
  valid: boolean;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed) >>> 0);
  return Buffer.concat([length, typed, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * An RGB PNG that claims `width`×`height`; `rows` rows of zero pixels are really there (the rest is missing).
 * With every row present it is a valid decompression bomb: tiny on the wire, width × height × 3 bytes decoded.
 */
function pngClaiming(width: number, height: number, rows: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rowBytes = Math.min(width * 3 + 1, 1 << 20);
  const idat = deflateSync(Buffer.alloc(rowBytes * rows), { level: 9 });
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A GIF whose screen and single frame claim `width`×`height`, with a two-colour table and a token LZW stream. */
function gifClaiming(width: number, height: number): Buffer {
  const header = Buffer.from('GIF89a', 'latin1');
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen.set([0x80, 0, 0], 4);
  const palette = Buffer.from([0, 0, 0, 255, 255, 255]);
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(width, 5);
  descriptor.writeUInt16LE(height, 7);
  const data = Buffer.from([0x02, 0x02, 0x4c, 0x01, 0x00, 0x3b]);
  return Buffer.concat([header, screen, palette, descriptor, data]);
}

/** A WebP extended header (VP8X) claiming a `width`×`height` canvas, with no image data after it. */
function webpClaiming(width: number, height: number): Buffer {
  const vp8x = Buffer.alloc(18);
  vp8x.write('VP8X', 0, 'latin1');
  vp8x.writeUInt32LE(10, 4);
  vp8x.writeUIntLE(width - 1, 12, 3);
  vp8x.writeUIntLE(height - 1, 15, 3);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + vp8x.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, vp8x]);
}

/** The JPEG with its first SOF's dimensions replaced. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(jpeg);
  for (let i = 2; i + 9 < patched.length; i++) {
    if (patched[i] === 0xff && (patched[i + 1] === 0xc0 || patched[i + 1] === 0xc2)) {
      patched.writeUInt16BE(height, i + 5);
      patched.writeUInt16BE(width, i + 7);
      return patched;
    }
  }
  throw new Error('no SOF marker');
}

function noise(width: number, height: number): sharp.Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return sharp(data, { raw: { width, height, channels: 3 } });
}

const cut = (bytes: Buffer, fraction: number) => bytes.subarray(0, Math.floor(bytes.length * fraction));

/** Every image of the corpus; `valid` ones are few on purpose (each is a real edit on the tiny models). */
export async function hostileImages(): Promise<HostileImage[]> {
  const png = await noise(64, 48).png().toBuffer();
  const jpeg = await noise(64, 48).jpeg({ quality: 80 }).toBuffer();
  const gif = await noise(64, 48).gif().toBuffer();
  const webp = await noise(64, 48).webp().toBuffer();
  const red = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#ff0000' } })
    .png()
    .toBuffer();
  const blue = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#0000ff' } })
    .png()
    .toBuffer();
  const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(26), Buffer.from('evil.sh')]);
  const html = Buffer.from('<html><script>fetch("http://169.254.169.254/")</script></html>');
  const images: HostileImage[] = [
    // Valid but unusual: each must be accepted and edited, or refused with a 4xx.
    {
      name: 'animated gif',
      bytes: await sharp([red, blue], { join: { animated: true } })
        .gif()
        .toBuffer(),
      type: 'image/gif',
      valid: true,
    },
    {
      name: 'animated webp',
      bytes: await sharp([red, blue], { join: { animated: true } })
        .webp()
        .toBuffer(),
      type: 'image/webp',
      valid: true,
    },
    {
      name: 'cmyk jpeg',
      bytes: await noise(40, 30).toColourspace('cmyk').jpeg().toBuffer(),
      type: 'image/jpeg',
      valid: true,
    },
    {
      name: 'exif orientation 6 jpeg',
      bytes: await noise(48, 32).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
      type: 'image/jpeg',
      valid: true,
    },
    {
      name: '16-bit png',
      bytes: await noise(40, 30).toColourspace('rgb16').png().toBuffer(),
      type: 'image/png',
      valid: true,
    },
    { name: 'png with a zip appended (polyglot)', bytes: Buffer.concat([png, zip]), type: 'image/png', valid: true },
    // Decompression bombs: headers that claim far more pixels than MAX_IMAGE_PIXELS (40 MP).
    { name: 'png claiming 100000x100000', bytes: pngClaiming(100_000, 100_000, 4), type: 'image/png', valid: false },
    { name: 'png claiming 2^31-1 x 1', bytes: pngClaiming(2 ** 31 - 1, 1, 0), type: 'image/png', valid: false },
    { name: 'png claiming 7000x7000 (49 MP)', bytes: pngClaiming(7000, 7000, 16), type: 'image/png', valid: false },
    {
      name: 'real zero png 8000x6000 (48 MP, valid data)',
      bytes: pngClaiming(8000, 6000, 6000),
      type: 'image/png',
      valid: false,
    },
    { name: 'png claiming 65535x1 (aspect ratio)', bytes: pngClaiming(65_535, 1, 1), type: 'image/png', valid: false },
    { name: 'gif claiming 65535x65535', bytes: gifClaiming(65_535, 65_535), type: 'image/gif', valid: false },
    { name: 'webp claiming 16384x16384', bytes: webpClaiming(16_384, 16_384), type: 'image/webp', valid: false },
    { name: 'jpeg claiming 65500x65500', bytes: jpegClaiming(jpeg, 65_500, 65_500), type: 'image/jpeg', valid: false },
    // Truncated files.
    { name: 'png cut at 30%', bytes: cut(png, 0.3), type: 'image/png', valid: false },
    { name: 'png cut at 70%', bytes: cut(png, 0.7), type: 'image/png', valid: false },
    { name: 'png header only', bytes: png.subarray(0, 33), type: 'image/png', valid: false },
    { name: 'jpeg cut at 40%', bytes: cut(jpeg, 0.4), type: 'image/jpeg', valid: false },
    { name: 'gif cut at 50%', bytes: cut(gif, 0.5), type: 'image/gif', valid: false },
    { name: 'webp cut at 50%', bytes: cut(webp, 0.5), type: 'image/webp', valid: false },
    // Not images, or only pretending.
    { name: 'html served as png', bytes: html, type: 'image/png', valid: false },
    { name: 'zip served as png', bytes: zip, type: 'image/png', valid: false },
    { name: 'empty file', bytes: Buffer.alloc(0), type: 'image/png', valid: false },
    { name: 'png signature then html', bytes: Buffer.concat([PNG_SIGNATURE, html]), type: 'image/png', valid: false },
    {
      name: 'pdf header then png',
      bytes: Buffer.concat([Buffer.from('%PDF-1.7\n'), png]),
      type: 'image/png',
      valid: false,
    },
  ];
  return images;
}
