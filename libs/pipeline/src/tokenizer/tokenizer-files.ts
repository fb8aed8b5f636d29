import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TokenizerLoadError } from './tokenizer.errors';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function parseJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TokenizerLoadError('tokenizer_file_invalid', `${path}: not valid JSON (${(err as Error).message})`);
  }
}
