import { createHash } from 'node:crypto';

/**
 * Step1X-Edit's `Qwen25VL_7b_PREFIX` (docs/MODEL.md §11): 1058 characters, 9 newlines, no trailing newline. It must be
 * byte-exact: the 217-token drop assumes its 204 tokens, and the quote rule assumes its two quotes sit at indices
 * 108 and 124 of the rendered prompt.
 */
export const STEP1X_PREFIX = [
  'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable for image generation. Evaluate the level of detail in the user prompt:',
  '- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial relationships to create vivid and concrete scenes.',
  '- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.',
  '',
  'Here are examples of how to transform or refine prompts:',
  '- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.',
  '- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass skyscrapers.',
  '',
  'Please generate only the enhanced description for the prompt below and avoid including any additional commentary or evaluations:',
  'User Prompt:',
].join('\n');

export const STEP1X_PREFIX_SHA256 = '40882ddca94ca6971c8d5713d42464afa31dad09236dfacafe3ee26b4b44aa82';

let prefixVerified = false;

/** Throws if the PREFIX constant was altered (an edit here silently shifts every kept token). Checked once. */
export function assertStep1xPrefixIntact(): void {
  if (prefixVerified) return;
  const actual = createHash('sha256').update(STEP1X_PREFIX, 'utf8').digest('hex');
  if (actual !== STEP1X_PREFIX_SHA256) {
    throw new Error(`STEP1X_PREFIX sha256 is ${actual}, expected ${STEP1X_PREFIX_SHA256}`);
  }
  prefixVerified = true;
}
