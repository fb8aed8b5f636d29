import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { relative } from 'node:path';

import type { FileDigests } from '@step1x/model-format';

export type { FileDigests };

/** Size and sha256 of each written file, keyed by its path relative to `dir` (what manifests record). */
export async function digestFiles(dir: string, paths: readonly string[]): Promise<FileDigests> {
  const out: FileDigests = {};
  for (const path of paths) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 8 * 1024 * 1024 })) hash.update(chunk as Buffer);
    out[relative(dir, path)] = { bytes: statSync(path).size, sha256: hash.digest('hex') };
  }
  return out;
}
