import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The workspace root: the nearest folder above this file that holds nx.json. */
export function workspaceRoot(from: string = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no nx.json above ${from}`);
    dir = up;
  }
}

/**
 * Where the golden sets live: $GOLDEN_ROOT, else ../shared/golden beside the repository.
 * Missing is an error, never a reason to skip.
 */
export function goldenRoot(): string {
  const root = process.env.GOLDEN_ROOT
    ? resolve(process.env.GOLDEN_ROOT)
    : resolve(workspaceRoot(), '..', 'shared', 'golden');
  if (!existsSync(root)) {
    throw new Error(
      `golden sets not found at ${root}: set GOLDEN_ROOT to the folder holding step1x-tiny/ and the others`,
    );
  }
  return root;
}
