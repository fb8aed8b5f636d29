import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Compiled files that make up the code; tests, type declarations and source maps do not build graphs. */
const CODE_FILE = /\.(js|json)$/;
const NOT_CODE = /\.(spec|int-spec|golden-spec|e2e-spec)\.js$|\.tsbuildinfo$/;
/** A workspace package the compiled code loads; its code is part of what builds the graphs. */
const WORKSPACE_REQUIRE = /require\("(@step1x\/[a-z0-9-]+)"\)/g;

function codeFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) codeFiles(path, out);
    else if (CODE_FILE.test(name) && !NOT_CODE.test(name)) out.push(path);
  }
  return out;
}

/** The folder of compiled code behind a workspace package name (its `main` file's folder), as the builder loads it. */
function packageDistDir(name: string): string {
  return dirname(require.resolve(name));
}

/**
 * sha256 over every compiled code file under `roots` and, transitively, under every `@step1x/*` package they
 * require: the path of each file relative to its root and its bytes. Anything in that code that changes changes
 * the fingerprint, so nobody has to remember to bump a version (docs/ARCHITECTURE.md, "Export").
 */
export function fingerprintCompiledCode(roots: readonly string[]): string {
  const hash = createHash('sha256');
  const pending = roots.map((r) => resolve(r));
  const seen = new Set<string>();
  while (pending.length > 0) {
    const root = pending.shift()!;
    if (seen.has(root) || !existsSync(root)) continue;
    seen.add(root);
    for (const file of codeFiles(root)) {
      const bytes = readFileSync(file);
      hash.update(`${relative(dirname(dirname(root)), file)}\0${bytes.length}\0`).update(bytes);
      for (const m of bytes.toString('utf8').matchAll(WORKSPACE_REQUIRE)) pending.push(packageDistDir(m[1]));
    }
  }
  return hash.digest('hex');
}

let cached: string | undefined;

/**
 * The fingerprint of the graph builder as it is loaded now (this package's compiled code and the workspace
 * packages it uses), computed once per process. Every cache of built models (tiny models, golden models) is keyed
 * on it: a warm cache can never serve graphs that an older builder wrote.
 */
export function builderFingerprint(): string {
  cached ??= fingerprintCompiledCode([resolve(__dirname, '..')]);
  return cached;
}
