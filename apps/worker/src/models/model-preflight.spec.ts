import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { hasRandomWeights } from '../edits/pipeline-image-editor';
import { ModelPreflightError, requireModelsDir } from './model-preflight';

describe('requireModelsDir', () => {
  it('takes the folder the caller resolved over MODELS_DIR, as an absolute path', () => {
    assert.equal(requireModelsDir('local/tiny', '/srv/models'), resolve('local/tiny'));
    assert.equal(requireModelsDir(undefined, '/srv/models'), '/srv/models');
  });

  it('refuses to run without a folder (never the tiny random models outside local mode)', () => {
    assert.throws(
      () => requireModelsDir(undefined, null),
      (error: unknown) =>
        error instanceof ModelPreflightError &&
        error.code === 'models_dir_required' &&
        /MODELS_DIR is not set/.test(error.message) &&
        /only in local mode/.test(error.message),
    );
  });
});

describe('hasRandomWeights', () => {
  it("reads the builder's `random (seed N)` sources and nothing else", () => {
    assert.equal(hasRandomWeights({ dit: 'random (seed 0)', vae: 'random (seed 0)' }), true);
    assert.equal(hasRandomWeights({ dit: 'step1x-edit-v1p1.safetensors', vae: 'random (seed 3)' }), true);
    assert.equal(hasRandomWeights({ dit: 'step1x-edit-v1p1.safetensors', vae: 'vae.safetensors' }), false);
    assert.equal(hasRandomWeights({}), false);
  });
});
