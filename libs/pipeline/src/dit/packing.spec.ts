import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { goldenRoot, SafetensorsFile } from '@step1x/tensors';
import { LatentShape, packedShape, packLatents, unpackLatents } from './packing';

describe('packLatents / unpackLatents against golden rope_packing', () => {
  const file = SafetensorsFile.open(join(goldenRoot(), 'step1x-tiny', 'rope_packing.safetensors'));
  const pairs = [...file.tensors.keys()]
    .filter((name) => name.startsWith('latent_'))
    .map((name) => [name, name.replace('latent_', 'packed_')] as const);

  it('has latent/packed pairs', () => assert.ok(pairs.length >= 2));

  for (const [latentName, packedName] of pairs) {
    it(`${latentName} packs to ${packedName} exactly and unpacks back`, () => {
      const [batch, channels, height, width] = file.info(latentName).shape;
      const shape: LatentShape = { batch, channels, height, width };
      assert.deepEqual(packedShape(shape), file.info(packedName).shape);
      const latent = file.readFloat32(latentName);
      const packed = packLatents(latent, shape);
      assert.deepEqual(packed, file.readFloat32(packedName));
      assert.deepEqual(unpackLatents(packed, shape), latent);
    });
  }
});

describe('packing layout', () => {
  it('places latent[b, c, 2i+ph, 2j+pw] at token i·(W/2)+j, feature c·4+ph·2+pw (batch 2, non-square)', () => {
    const shape: LatentShape = { batch: 2, channels: 3, height: 4, width: 6 };
    const latent = Float32Array.from({ length: 2 * 3 * 4 * 6 }, (_, k) => k);
    const packed = packLatents(latent, shape);
    const [, tokens, features] = packedShape(shape);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 4; y++)
          for (let x = 0; x < 6; x++) {
            const token = (y >> 1) * 3 + (x >> 1);
            const feature = c * 4 + (y & 1) * 2 + (x & 1);
            assert.equal(packed[(b * tokens + token) * features + feature], latent[((b * 3 + c) * 4 + y) * 6 + x]);
          }
  });

  it('rejects odd latent sizes and wrong lengths', () => {
    assert.throws(
      () => packLatents(new Float32Array(16 * 3 * 4), { batch: 1, channels: 16, height: 3, width: 4 }),
      RangeError,
    );
    assert.throws(
      () => unpackLatents(new Float32Array(10), { batch: 1, channels: 16, height: 2, width: 2 }),
      RangeError,
    );
  });
});
