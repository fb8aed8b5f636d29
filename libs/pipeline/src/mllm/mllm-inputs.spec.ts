import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RgbImage } from '../preprocess/image.types';
import { QwenTokenizer } from '../tokenizer/qwen-tokenizer';
import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { STEP1X_NEGATIVE_INSTRUCTION, prepareMllmInputs } from './mllm-inputs';
import { InstructionRejectedError } from './mllm.errors';

const tokenizer = QwenTokenizer.bundled();

function checkerImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.fill((i % width) ^ Math.floor(i / width) ? 200 : 30, i * 3, i * 3 + 3);
  return { width, height, data };
}

describe('prepareMllmInputs', () => {
  const reference = checkerImage(512, 512);

  it('builds both CFG branches on the same image; the negative one has an empty instruction', () => {
    const inputs = prepareMllmInputs(tokenizer, 'Let her cry.', reference);
    assert.equal(inputs.image.numImageTokens, 324);
    assert.equal(inputs.uncond.prompt.instruction, STEP1X_NEGATIVE_INSTRUCTION);
    const pads = (ids: readonly number[]) => ids.filter((id) => id === QWEN_TOKEN.imagePad).length;
    assert.equal(pads(inputs.cond.prompt.inputIds), 324);
    assert.equal(pads(inputs.uncond.prompt.inputIds), 324);
    assert.deepEqual(inputs.cond.prompt.inputIds.slice(0, 548), inputs.uncond.prompt.inputIds.slice(0, 548));
    assert.equal(inputs.cond.window.validLength, 341);
    assert.equal(inputs.uncond.window.validLength, 337);
    assert.equal(inputs.truncated, false);
  });

  it('gives position ids for every token and the vision layout for every patch', () => {
    const inputs = prepareMllmInputs(tokenizer, 'Make it pop!', reference);
    const L = inputs.cond.prompt.inputIds.length;
    assert.equal(inputs.cond.positions.positionIds.length, 3 * L);
    assert.equal(inputs.cond.positions.ropeDelta, 18 - 324);
    assert.equal(inputs.vision.windowIndex.length, 324);
    assert.equal(inputs.vision.cuWindowSeqlens[inputs.vision.cuWindowSeqlens.length - 1], 1296);
    assert.equal(inputs.vision.patchPositionIds.length, 2 * 1296);
  });

  it('reports truncation of the conditional branch', () => {
    const inputs = prepareMllmInputs(tokenizer, `the woman's coat ${'and more '.repeat(40)}`, reference);
    assert.equal(inputs.truncated, true);
    assert.equal(inputs.cond.window.validLength, 640);
    assert.equal(inputs.uncond.window.truncated, false);
  });

  it('refuses a special-token instruction before looking at the image', () => {
    const broken = { width: 4, height: 4, data: new Uint8Array(3) };
    assert.throws(
      () => prepareMllmInputs(tokenizer, 'swap <|image_pad|>', broken),
      (err: unknown) => err instanceof InstructionRejectedError && err.code === 'instruction_contains_special_token',
    );
  });
});
