import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InstructionRejectedError, QwenInputError } from './mllm/mllm.errors';
import { PipelineError } from './pipeline-error';
import { EditRequestError } from './edit-request.error';
import { ModelNumericsError } from './numerics/model-numerics';
import { TokenizerLoadError } from './tokenizer/tokenizer.errors';

describe('PipelineError subclasses', () => {
  it('carry their code, message, cause and own name, and stay distinguishable with instanceof', () => {
    const cause = new Error('underlying');
    const errors = [
      [new InstructionRejectedError('out_of_range', 'too long', { cause }), InstructionRejectedError],
      [new QwenInputError('image_too_small', 'tiny', { cause }), QwenInputError],
      [new TokenizerLoadError('tokenizer_file_missing', 'no file', { cause }), TokenizerLoadError],
    ] as const;
    for (const [error, type] of errors) {
      assert.ok(error instanceof type && error instanceof PipelineError && error instanceof Error);
      assert.equal(error.name, type.name);
      assert.equal(String(error), `${type.name}: ${error.message}`);
      assert.equal(error.cause, cause);
      for (const [, other] of errors) if (other !== type) assert.equal(error instanceof other, false);
    }
    assert.deepEqual(
      errors.map(([error]) => error.code),
      ['out_of_range', 'image_too_small', 'tokenizer_file_missing'],
    );
  });

  it('include the request and numerics errors, with the field or stage they name', () => {
    const request = new EditRequestError('out_of_range', 'size_level', 'size_level: must be one of 512, 768, 1024');
    assert.ok(request instanceof PipelineError);
    assert.deepEqual([request.code, request.param, request.name], ['out_of_range', 'size_level', 'EditRequestError']);
    const numerics = new ModelNumericsError('vae_decoder', 7, NaN, 12);
    assert.ok(numerics instanceof PipelineError);
    assert.equal(numerics.code, 'model_numerics');
    assert.match(numerics.message, /NaN at element 7 of 12\) from the VAE decoder/);
  });
});
