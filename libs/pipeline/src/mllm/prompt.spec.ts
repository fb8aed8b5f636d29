import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { QwenTokenizer } from '../tokenizer/qwen-tokenizer';
import { QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { STEP1X_PREFIX, STEP1X_PREFIX_SHA256 } from './step1x-prefix';
import {
  MAX_INSTRUCTION_CODE_POINTS,
  buildEditPromptIds,
  renderEditPrompt,
  splitQuotedText,
  validateInstruction,
} from './prompt';
import { InstructionRejectedError } from './mllm.errors';
import { STEP1X_DROPPED_TOKENS, step1xTokenWindow } from './embedding-layout';

const tokenizer = QwenTokenizer.bundled();
const SQUARE_IMAGE_TOKENS = 324;

function tailFromVisionEnd(instruction: string): number[] {
  const ids = buildEditPromptIds(tokenizer, instruction, SQUARE_IMAGE_TOKENS).inputIds;
  return ids.slice(ids.indexOf(QWEN_TOKEN.visionEnd));
}

function assertRefused(instruction: string, code: string): void {
  assert.throws(
    () => buildEditPromptIds(tokenizer, instruction, SQUARE_IMAGE_TOKENS),
    (err: unknown) => err instanceof InstructionRejectedError && err.code === code,
    `expected ${code} for ${JSON.stringify(instruction.slice(0, 40))}`,
  );
}

describe('PREFIX and the rendered prompt (docs/MODEL.md §11)', () => {
  it('PREFIX is 1058 characters, 9 newlines, with the pinned sha256', () => {
    assert.equal(STEP1X_PREFIX.length, 1058);
    assert.equal(STEP1X_PREFIX.split('\n').length - 1, 9);
    assert.equal(createHash('sha256').update(STEP1X_PREFIX, 'utf8').digest('hex'), STEP1X_PREFIX_SHA256);
  });

  it('renders the default system prompt, PREFIX, Picture 1 and the vision tokens with no separator', () => {
    const text = renderEditPrompt(tokenizer, 'Let her cry.');
    assert.ok(
      text.startsWith('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nGiven a user'),
    );
    assert.ok(
      text.includes('User Prompt:Picture 1: <|vision_start|><|image_pad|><|vision_end|>Let her cry.<|im_end|>\n'),
    );
    assert.ok(text.endsWith('<|im_start|>assistant\n'));
  });

  it('tokenises to the 14-token header, the 204-token PREFIX and Picture 1 at 218–222', () => {
    const ids = buildEditPromptIds(tokenizer, 'Let her cry.', SQUARE_IMAGE_TOKENS).inputIds;
    assert.deepEqual(
      ids.slice(0, 14),
      [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198],
    );
    assert.equal(tokenizer.encode(STEP1X_PREFIX).length, 204);
    assert.deepEqual(ids.slice(14, 218), tokenizer.encode(STEP1X_PREFIX));
    assert.deepEqual(ids.slice(218, 223), [24669, 220, 16, 25, 220]);
    assert.equal(ids[223], QWEN_TOKEN.visionStart);
  });
});

describe('quote splitting (docs/MODEL.md §12)', () => {
  it('reproduces the tail of "Let her cry."', () => {
    assert.deepEqual(
      tailFromVisionEnd('Let her cry.'),
      [151653, 10061, 1059, 15729, 13, 151645, 198, 151644, 77091, 198],
    );
  });

  it('reproduces the 6-token tail of the empty negative prompt', () => {
    assert.deepEqual(tailFromVisionEnd(''), [151653, 151645, 198, 151644, 77091, 198]);
  });

  it('tokenises each character inside balanced quotes on its own (apostrophes count as quotes)', () => {
    assert.deepEqual(
      tailFromVisionEnd("Replace 'TRAIN' with 'PLANE'"),
      [
        151653, 23107, 330, 51, 49, 47249, 854, 10168, 854, 45, 1, 448, 330, 47, 43, 47249, 854, 45, 36, 1, 151645, 198,
        151644, 77091, 198,
      ],
    );
  });

  it('lets an unbalanced apostrophe turn the rest, chat suffix included, into single characters', () => {
    assert.deepEqual(
      tailFromVisionEnd("Add pendant with a ruby around this girl's neck."),
      [
        151653, 2212, 41744, 448, 264, 45207, 2163, 419, 3743, 1, 82, 2073, 18987, 77, 68, 66, 74, 2073, 1987, 27, 91,
        72, 76, 62, 68, 77, 67, 91, 29, 198, 27, 91, 72, 76, 62, 82, 83, 64, 81, 83, 91, 29, 64, 82, 82, 72, 82, 83, 64,
        77, 83, 198,
      ],
    );
  });

  it('treats quotes at code-point index ≤ 155 as text and past it as delimiters', () => {
    const early = `${'x'.repeat(100)}"ab"${'y'.repeat(60)}`;
    assert.deepEqual(splitQuotedText(early), [early]);
    const late = `${'x'.repeat(156)}"ab"c`;
    assert.deepEqual(splitQuotedText(late), [`${'x'.repeat(156)}"`, '“a”', '“b”', '"c']);
    // Index 155 exactly is still text; the count is in code points, so an astral character counts once.
    assert.deepEqual(splitQuotedText(`${'x'.repeat(155)}"a`), [`${'x'.repeat(155)}"a`]);
    assert.deepEqual(splitQuotedText(`${'😀'.repeat(156)}"a`), [`${'😀'.repeat(156)}"`, '“a”']);
  });

  it('turns curly quotes into delimiters too', () => {
    assert.deepEqual(splitQuotedText(`${'x'.repeat(156)}“a”b`), [`${'x'.repeat(156)}"`, '“a”', '"b']);
  });

  it('masks every lone "!" (token 0) and keeps "!!" (one token)', () => {
    const pop = buildEditPromptIds(tokenizer, 'Make it pop!', SQUARE_IMAGE_TOKENS);
    const zeros = pop.attentionMask.flatMap((m, i) => (m === 0 ? [i] : []));
    assert.deepEqual(zeros, [552]);
    assert.equal(pop.inputIds[552], 0);
    const snowy = buildEditPromptIds(tokenizer, 'make it snowy!!', SQUARE_IMAGE_TOKENS);
    assert.ok(snowy.attentionMask.every((m) => m === 1));
  });

  it('splices old ids before <|vision_end|> and split ids after it, with the image pad expanded', () => {
    const prompt = buildEditPromptIds(tokenizer, "it's", 7);
    assert.equal(prompt.oldInputIds.filter((id) => id === QWEN_TOKEN.imagePad).length, 7);
    assert.equal(prompt.splitInputIds.filter((id) => id === QWEN_TOKEN.imagePad).length, 1);
    assert.deepEqual(prompt.inputIds, [
      ...prompt.oldInputIds.slice(0, prompt.visionEndIndexOld),
      ...prompt.splitInputIds.slice(prompt.visionEndIndexSplit),
    ]);
    assert.equal(prompt.inputIds.length, 224 + 7 + tailFromVisionEnd("it's").length);
  });
});

describe('217-drop / 640 window (docs/MODEL.md §13)', () => {
  it('keeps ": Picture 1: <|vision_start|>" first and gives the spec lengths', () => {
    const negative = buildEditPromptIds(tokenizer, '', SQUARE_IMAGE_TOKENS);
    assert.deepEqual(
      negative.inputIds.slice(STEP1X_DROPPED_TOKENS, STEP1X_DROPPED_TOKENS + 8),
      [25, 24669, 220, 16, 25, 220, 151652, 151655],
    );
    assert.equal(step1xTokenWindow(negative.inputIds.length).validLength, 337);
    assert.equal(
      step1xTokenWindow(buildEditPromptIds(tokenizer, 'Let her cry.', SQUARE_IMAGE_TOKENS).inputIds.length).validLength,
      341,
    );
  });

  it('reports truncation when the window cuts the instruction', () => {
    const short = buildEditPromptIds(tokenizer, 'Make the sky purple.', SQUARE_IMAGE_TOKENS);
    assert.equal(step1xTokenWindow(short.inputIds.length).truncated, false);
    // After an apostrophe every character is a token: 400 of them overflow 640 − 7 − 324.
    const long = buildEditPromptIds(tokenizer, `it's ${'a'.repeat(400)}`, SQUARE_IMAGE_TOKENS);
    const window = step1xTokenWindow(long.inputIds.length);
    assert.equal(window.truncated, true);
    assert.equal(window.validLength, 640);
    assert.equal(window.droppedTailTokens, long.inputIds.length - 217 - 640);
  });
});

describe('instruction policy (docs/MODEL.md §10)', () => {
  it('refuses special-token literals with instruction_contains_special_token', () => {
    for (const literal of [
      '<|im_start|>',
      '<|im_end|>',
      '<|image_pad|>',
      '<|vision_start|>',
      '<|vision_end|>',
      '<|endoftext|>',
    ]) {
      assertRefused(`make it red ${literal} now`, 'instruction_contains_special_token');
    }
    assert.doesNotThrow(() => validateInstruction(tokenizer, 'compare a<b and c|d'));
  });

  it('accepts 2000 code points and refuses 2001 (astral characters count once)', () => {
    assert.doesNotThrow(() => validateInstruction(tokenizer, '😀'.repeat(MAX_INSTRUCTION_CODE_POINTS)));
    assertRefused('a'.repeat(MAX_INSTRUCTION_CODE_POINTS + 1), 'out_of_range');
  });

  it('can reproduce the official behaviour on refused text when asked (golden checks)', () => {
    const prompt = buildEditPromptIds(tokenizer, 'x<|im_end|>', SQUARE_IMAGE_TOKENS, { skipInstructionPolicy: true });
    assert.ok(prompt.inputIds.filter((id) => id === QWEN_TOKEN.imEnd).length >= 3);
  });
});
