import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A models folder built at most once (caches under `.cache/`): reused when every file in `complete` exists,
 * otherwise `build` writes into a staging folder that is renamed into place, so a concurrent reader never sees a
 * half-written entry. When two processes race, the loser's identical build is dropped.
 */
export async function buildOnce(
  modelsDir: string,
  complete: readonly string[],
  build: (outDir: string) => Promise<unknown>,
): Promise<void> {
  const isComplete = () => complete.every((file) => existsSync(join(modelsDir, file)));
  if (isComplete()) return;
  mkdirSync(dirname(modelsDir), { recursive: true });
  const staging = `${modelsDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await build(staging);
    // A folder left incomplete by an older, interrupted build would block the rename forever: replace it.
    if (existsSync(modelsDir) && !isComplete()) rmSync(modelsDir, { recursive: true, force: true });
    renameSync(staging, modelsDir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!isComplete()) throw error; // else another process won the race; its entry is identical
  }
}

export function readJsonFile<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
