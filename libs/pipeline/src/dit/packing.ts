/**
 * 2×2 patch packing between the VAE latent and the DiT token stream (docs/MODEL.md §16; einops
 * `b c (h ph) (w pw) -> b (h w) (c ph pw)` with ph = pw = 2):
 *
 *   packed[b, i·(W/2) + j, c·4 + ph·2 + pw] = latent[b, c, 2i + ph, 2j + pw]
 *
 * where H, W are the latent's height and width (image size / 8), so the token grid is (H/2)×(W/2), row-major.
 * Unpacking is the exact inverse; both are pure data movement.
 */

/** Shape of a latent tensor [batch, channels, height, width] (latent pixels, not image pixels). */
export interface LatentShape {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export const PATCH_SIZE = 2;

/** Token count and feature width of a packed latent: [batch, tokens, features]. */
export function packedShape(shape: LatentShape): [number, number, number] {
  checkLatentShape(shape);
  return [
    shape.batch,
    (shape.height / PATCH_SIZE) * (shape.width / PATCH_SIZE),
    shape.channels * PATCH_SIZE * PATCH_SIZE,
  ];
}

function checkLatentShape({ batch, channels, height, width }: LatentShape): void {
  for (const [name, v] of Object.entries({ batch, channels, height, width })) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`latent ${name} must be a positive integer, got ${v}`);
  }
  if (height % PATCH_SIZE !== 0 || width % PATCH_SIZE !== 0) {
    throw new RangeError(`latent ${height}x${width} is not divisible into ${PATCH_SIZE}x${PATCH_SIZE} patches`);
  }
}

function checkLength(values: ArrayLike<number>, shape: LatentShape, what: string): void {
  const expected = shape.batch * shape.channels * shape.height * shape.width;
  if (values.length !== expected) throw new RangeError(`${what} has ${values.length} values, shape needs ${expected}`);
}

/** Visits every (latent index, packed index) pair once. */
function forEachPackedPair(shape: LatentShape, visit: (latentIndex: number, packedIndex: number) => void): void {
  const { batch, channels, height, width } = shape;
  const gridW = width / PATCH_SIZE;
  const gridH = height / PATCH_SIZE;
  const features = channels * PATCH_SIZE * PATCH_SIZE;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < gridH; i++) {
      for (let j = 0; j < gridW; j++) {
        const tokenBase = ((b * gridH + i) * gridW + j) * features;
        for (let c = 0; c < channels; c++) {
          for (let ph = 0; ph < PATCH_SIZE; ph++) {
            const rowBase = ((b * channels + c) * height + i * PATCH_SIZE + ph) * width + j * PATCH_SIZE;
            for (let pw = 0; pw < PATCH_SIZE; pw++) {
              visit(rowBase + pw, tokenBase + c * PATCH_SIZE * PATCH_SIZE + ph * PATCH_SIZE + pw);
            }
          }
        }
      }
    }
  }
}

/** Latent [B, C, H, W] → tokens [B, (H/2)(W/2), 4C]. */
export function packLatents(latent: Float32Array, shape: LatentShape): Float32Array {
  checkLatentShape(shape);
  checkLength(latent, shape, 'latent');
  const packed = new Float32Array(latent.length);
  forEachPackedPair(shape, (latentIndex, packedIndex) => {
    packed[packedIndex] = latent[latentIndex];
  });
  return packed;
}

/** Tokens [B, (H/2)(W/2), 4C] → latent [B, C, H, W]; `shape` is the latent's. */
export function unpackLatents(tokens: Float32Array, shape: LatentShape): Float32Array {
  checkLatentShape(shape);
  checkLength(tokens, shape, 'tokens');
  const latent = new Float32Array(tokens.length);
  forEachPackedPair(shape, (latentIndex, packedIndex) => {
    latent[latentIndex] = tokens[packedIndex];
  });
  return latent;
}
