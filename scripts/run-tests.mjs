#!/usr/bin/env node
// Runs every compiled test file of the workspace with node:test and ends with the one summary line CI reads:
// "N passed, M failed". Usage: node scripts/run-tests.mjs [substring filter...]
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const TEST_FILE = /\.(spec|int-spec|golden-spec|e2e-spec)\.js$/;

function collect(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (TEST_FILE.test(name)) out.push(path);
  }
  return out;
}

const distDirs = [];
for (const group of ['libs', 'apps']) {
  for (const pkg of readdirSync(join(root, group))) distDirs.push(join(root, group, pkg, 'dist'));
}
distDirs.push(join(root, 'test', 'dist'));

// The AWS SDK's notice that it will need Node 22 from 2027 on is printed by every process that makes a client:
// useful once for a user (`npm start` still shows it), noise dozens of times in a test log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const filters = process.argv.slice(2);
const files = distDirs
  .flatMap((d) => collect(d, []))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();

if (files.length === 0) {
  console.log('no test files found (did `tsc -b` run?)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: Number(process.env.TEST_CONCURRENCY ?? 2), timeout: 15 * 60_000 });
stream.on('test:pass', (e) => {
  if (e.details?.type !== 'suite' && !e.skip && !e.todo) passed++;
});
stream.on('test:fail', (e) => {
  if (e.details?.type !== 'suite') failed++;
});
const reporter = typeof spec === 'function' && spec.prototype?.constructor === spec ? new spec() : spec;
stream.compose(reporter).pipe(process.stdout);
stream.on('end', () => {
  setImmediate(() => {
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
  });
});
