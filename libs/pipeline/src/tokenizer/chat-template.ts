import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoadError } from './tokenizer.errors';
import { QWEN_TOKEN_TEXT } from './qwen-special-tokens';
import { parseJsonFile, sha256Hex } from './tokenizer-files';

/**
 * sha256 of the text of the stock Qwen2-VL / Qwen2.5-VL chat template (Qwen/Qwen2.5-VL-7B-Instruct's
 * `chat_template.json`; the mllm golden manifest carries the text and this hash).
 */
export const QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256 = 'a0bc6f6fc7a29a80017a433e8f03a1cc1236e838a944a2d034295a60c4f2fddb';

const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';

/** One user turn holding `[text, image, text]`, the only message shape Step1X-Edit renders (docs/MODEL.md §11). */
export interface SingleImageUserTurn {
  readonly textBeforeImage: string;
  readonly textAfterImage: string;
}

/**
 * The chat template, recognised by hash. The tokenizer library's Jinja engine cannot run Qwen's template (it lacks
 * the `is string` test), so we render the one template we know natively and refuse any other text rather than
 * guess how it would render.
 */
export interface ChatTemplate {
  readonly kind: 'qwen2-vl-stock';
  /** sha256 of the template text, or of nothing when no text was read (the built-in stock template). */
  readonly sha256: string;
  /** Where the template came from: a file path, or `builtin`. */
  readonly source: string;
  /**
   * `apply_chat_template(..., add_generation_prompt=True, add_vision_id=True)` for one user turn with no system
   * message: the template inserts the default system prompt and numbers the image `Picture 1: `.
   */
  renderSingleImageUserTurn(turn: SingleImageUserTurn): string;
}

function renderStockSingleImageUserTurn(turn: SingleImageUserTurn): string {
  const { imStart, imEnd, visionStart, imagePad, visionEnd } = QWEN_TOKEN_TEXT;
  return (
    `${imStart}system\n${DEFAULT_SYSTEM_PROMPT}${imEnd}\n` +
    `${imStart}user\n${turn.textBeforeImage}Picture 1: ${visionStart}${imagePad}${visionEnd}${turn.textAfterImage}${imEnd}\n` +
    `${imStart}assistant\n`
  );
}

export function stockQwen2VLChatTemplate(): ChatTemplate {
  return {
    kind: 'qwen2-vl-stock',
    sha256: QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256,
    source: 'builtin',
    renderSingleImageUserTurn: renderStockSingleImageUserTurn,
  };
}

/** Accepts a template text if it is the stock Qwen2-VL template, else throws `chat_template_unsupported`. */
export function chatTemplateFromText(text: string, source: string): ChatTemplate {
  const sha256 = sha256Hex(text);
  if (sha256 !== QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256) {
    throw new TokenizerLoadError(
      'chat_template_unsupported',
      `${source}: chat template sha256 ${sha256} is not the stock Qwen2.5-VL template (${QWEN2VL_STOCK_CHAT_TEMPLATE_SHA256})`,
    );
  }
  return { kind: 'qwen2-vl-stock', sha256, source, renderSingleImageUserTurn: renderStockSingleImageUserTurn };
}

function templateFromTokenizerConfig(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  // Some configs hold a list of named templates; the processor uses the one named "default".
  if (Array.isArray(value)) {
    const named = value.find((t: { name?: unknown }) => t && t.name === 'default') as
      { template?: unknown } | undefined;
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}

/**
 * Reads the chat template of a Qwen2.5-VL directory the way the processor finds it: `chat_template.jinja`, then
 * `chat_template.json`, then the `chat_template` field of `tokenizer_config.json`.
 */
export function readChatTemplateFromDirectory(dir: string): ChatTemplate {
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) return chatTemplateFromText(readFileSync(jinjaPath, 'utf8'), jinjaPath);
  const jsonPath = join(dir, 'chat_template.json');
  if (existsSync(jsonPath)) {
    const parsed = parseJsonFile(jsonPath) as { chat_template?: unknown };
    if (typeof parsed.chat_template !== 'string') {
      throw new TokenizerLoadError('tokenizer_file_invalid', `${jsonPath}: no "chat_template" string`);
    }
    return chatTemplateFromText(parsed.chat_template, jsonPath);
  }
  const configPath = join(dir, 'tokenizer_config.json');
  if (existsSync(configPath)) {
    const text = templateFromTokenizerConfig((parseJsonFile(configPath) as { chat_template?: unknown }).chat_template);
    if (text !== undefined) return chatTemplateFromText(text, configPath);
  }
  throw new TokenizerLoadError(
    'chat_template_missing',
    `${dir}: no chat template (looked for chat_template.jinja, chat_template.json and tokenizer_config.json)`,
  );
}
