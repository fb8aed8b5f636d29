import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InstructionRejectedError, QwenInputError } from './mllm/mllm.errors';
import { PipelineError } from './pipeline-error';
import { ImageInputError } from './preprocess/image-io';
import { TokenizerLoadError } from './tokenizer/tokenizer.errors';

describe('PipelineError subclasses', () => {
  it('carry their code, message, cause and own name, and stay distinguishable with instanceof', () => {
    const cause = new Error('underlying');
    const errors = [
      [new InstructionRejectedError('out_of_range', 'too long', { cause }), InstructionRejectedError],
      [new QwenInputError('image_too_small', 'tiny', { cause }), QwenInputError],
      [new TokenizerLoadError('tokenizer_file_missing', 'no file', { cause }), TokenizerLoadError],
      [new ImageInputError('image_unreadable', 'garbage', { cause }), ImageInputError],
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
      ['out_of_range', 'image_too_small', 'tokenizer_file_missing', 'image_unreadable'],
    );
  });
});
