import { EDIT_PARAMS } from '@step1x/contracts';
import { QwenTokenizer } from '../tokenizer/qwen-tokenizer';
import { EXCLAMATION_TOKEN_ID, QWEN_TOKEN } from '../tokenizer/qwen-special-tokens';
import { InstructionRejectedError, QwenInputError } from './mllm.errors';
import { STEP1X_PREFIX, assertStep1xPrefixIntact } from './step1x-prefix';

/** docs/MODEL.md §10: instructions longer than this many Unicode code points are refused (the API's limit). */
export const MAX_INSTRUCTION_CODE_POINTS = EDIT_PARAMS.instruction.maxCodePoints;

/**
 * `split_string` treats a quote as a delimiter only past this code-point index of the whole rendered prompt, which
 * keeps the two quotes of PREFIX (indices 108 and 124) as plain text (docs/MODEL.md §12).
 */
export const QUOTE_RULE_MIN_INDEX = 155;

/** Tokens of `“` and `”`: a piece tokenised as `“…”` loses them when both survive at its ends (docs/MODEL.md §12). */
export const CJK_OPEN_QUOTE_ID = 2073;
export const CJK_CLOSE_QUOTE_ID = 854;

/** Refuses what docs/MODEL.md §10 refuses: added-token literals and more than 2,000 code points. */
export function validateInstruction(tokenizer: QwenTokenizer, instruction: string): void {
  const codePoints = [...instruction].length;
  if (codePoints > MAX_INSTRUCTION_CODE_POINTS) {
    throw new InstructionRejectedError(
      'out_of_range',
      `instruction has ${codePoints} code points; at most ${MAX_INSTRUCTION_CODE_POINTS} are accepted`,
    );
  }
  // HF matches every added token (special or not) as a literal before BPE, so the text would inject control ids.
  const literal = tokenizer.findAddedTokenLiteral(instruction);
  if (literal) {
    throw new InstructionRejectedError(
      'instruction_contains_special_token',
      `instruction contains the token literal ${literal.content}, which the tokenizer would read as a control token`,
    );
  }
}

/** The rendered chat prompt: one user turn `[PREFIX, image, instruction]` (docs/MODEL.md §11). */
export function renderEditPrompt(tokenizer: QwenTokenizer, instruction: string): string {
  assertStep1xPrefixIntact();
  return tokenizer.chatTemplate.renderSingleImageUserTurn({
    textBeforeImage: STEP1X_PREFIX,
    textAfterImage: instruction,
  });
}

/**
 * The official `split_string` (docs/MODEL.md §12): apostrophes and curly quotes become `"`; past index 155 a `"` toggles
 * quoted mode; each quoted character becomes its own `“c”` piece; an unbalanced quote therefore turns everything
 * after it, chat suffix included, into one piece per character.
 */
export function splitQuotedText(text: string): string[] {
  const normalised = text.replace(/['“”]/g, '"');
  const pieces: string[] = [];
  let inQuotes = false;
  let buffer = '';
  let index = 0;
  for (const ch of normalised) {
    if (ch === '"' && index > QUOTE_RULE_MIN_INDEX) {
      buffer += ch;
      if (!inQuotes) {
        pieces.push(buffer);
        buffer = '';
      }
      inQuotes = !inQuotes;
    } else if (inQuotes) {
      pieces.push(`“${ch}”`);
    } else {
      buffer += ch;
    }
    index++;
  }
  if (buffer) pieces.push(buffer);
  return pieces;
}

export interface SplitPiece {
  readonly text: string;
  /** The piece's tokenisation. */
  readonly ids: readonly number[];
  /** Whether `ids` started with `“` (2073) and ended with `”` (854), which are then dropped. */
  readonly wrapperStripped: boolean;
  /** What the piece adds to the split sequence: `ids`, less the wrapper when it was stripped. */
  readonly keptIds: readonly number[];
}

export function tokenizeSplitPieces(tokenizer: QwenTokenizer, pieces: readonly string[]): SplitPiece[] {
  return pieces.map((text) => {
    const ids = tokenizer.encode(text);
    const wrapped = ids.length > 0 && ids[0] === CJK_OPEN_QUOTE_ID && ids[ids.length - 1] === CJK_CLOSE_QUOTE_ID;
    return { text, ids, wrapperStripped: wrapped, keptIds: wrapped ? ids.slice(1, -1) : ids };
  });
}

/** Everything the official conditioner builds from one instruction before the network runs (docs/MODEL.md §11–§13). */
export interface EditPromptIds {
  readonly instruction: string;
  readonly promptText: string;
  readonly pieces: readonly SplitPiece[];
  /** The processor's tokenisation of the whole prompt, the image pad expanded to `numImageTokens`. */
  readonly oldInputIds: readonly number[];
  /** The concatenated piece ids, with one unexpanded image pad. */
  readonly splitInputIds: readonly number[];
  readonly visionEndIndexOld: number;
  readonly visionEndIndexSplit: number;
  /** `oldInputIds[:visionEndIndexOld] ++ splitInputIds[visionEndIndexSplit:]`: what the network receives. */
  readonly inputIds: readonly number[];
  /** `inputIds > 0`: token 0 (`!`) is masked. */
  readonly attentionMask: readonly number[];
  readonly numImageTokens: number;
}

function expandImagePad(ids: readonly number[], numImageTokens: number): number[] {
  const out: number[] = [];
  for (const id of ids) {
    if (id === QWEN_TOKEN.imagePad) for (let k = 0; k < numImageTokens; k++) out.push(id);
    else out.push(id);
  }
  return out;
}

function firstVisionEnd(ids: readonly number[], what: string): number {
  const index = ids.indexOf(QWEN_TOKEN.visionEnd);
  if (index < 0) throw new QwenInputError('invalid_token_sequence', `${what} holds no <|vision_end|> token`);
  return index;
}

export interface BuildPromptOptions {
  /**
   * Skip docs/MODEL.md §10's refusals and reproduce what the official code does with any text (golden checks only).
   * @defaultValue false
   */
  readonly skipInstructionPolicy?: boolean;
}

/**
 * The token ids of one branch (cond: the instruction; uncond: `''`). Validates the instruction first
 * (docs/MODEL.md §10), so a refused instruction never reaches the tokenizer.
 */
export function buildEditPromptIds(
  tokenizer: QwenTokenizer,
  instruction: string,
  numImageTokens: number,
  options: BuildPromptOptions = {},
): EditPromptIds {
  if (!Number.isInteger(numImageTokens) || numImageTokens < 1) {
    throw new QwenInputError(
      'invalid_token_sequence',
      `numImageTokens must be a positive integer, got ${numImageTokens}`,
    );
  }
  if (!options.skipInstructionPolicy) validateInstruction(tokenizer, instruction);
  const promptText = renderEditPrompt(tokenizer, instruction);
  const oldInputIds = expandImagePad(tokenizer.encode(promptText), numImageTokens);
  const pieces = tokenizeSplitPieces(tokenizer, splitQuotedText(promptText));
  const splitInputIds = pieces.flatMap((p) => p.keptIds);
  const visionEndIndexOld = firstVisionEnd(oldInputIds, 'the prompt tokenisation');
  const visionEndIndexSplit = firstVisionEnd(splitInputIds, 'the split tokenisation');
  const inputIds = [...oldInputIds.slice(0, visionEndIndexOld), ...splitInputIds.slice(visionEndIndexSplit)];
  const attentionMask = inputIds.map((id) => (id > EXCLAMATION_TOKEN_ID ? 1 : 0));
  return {
    instruction,
    promptText,
    pieces,
    oldInputIds,
    splitInputIds,
    visionEndIndexOld,
    visionEndIndexSplit,
    inputIds,
    attentionMask,
    numImageTokens,
  };
}
