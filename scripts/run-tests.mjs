#!/usr/bin/env node
// Runs every compiled test file of the workspace with node:test and ends with the one summary line CI reads:
// "N passed, M failed".
//
// Usage: node scripts/run-tests.mjs [substring filter...]
//        node scripts/run-tests.mjs --file <path> [--file <path>...]   (exact files; the runner's own tests use it)
//
// The summary must never say "0 failed" while something failed, whatever the level (docs/ARCHITECTURE.md, "Test
// harness"). node:test reports some failures only on a suite or on the file itself, never on a test:
//   - a describe body that throws before it registers a test: one failing suite (failureType testCodeFailure);
//   - a failing before/after hook: a failing suite (hookFailed), its tests cancelled;
//   - a file that throws at top level, crashes, exits non-zero or never ends: one failing pseudo-test named
//     after the file (testCodeFailure / testTimeoutFailure).
// So every test:fail counts, except a suite whose only failure is its failing subtests (subtestsFailed): those
// subtests are counted themselves. And a file or a suite that registers no test at all counts as a failure: a
// suite built from a manifest that found no case must not pass by saying nothing.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
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

function workspaceTestFiles(filters) {
  const distDirs = [];
  for (const group of ['libs', 'apps']) {
    for (const pkg of readdirSync(join(root, group))) distDirs.push(join(root, group, pkg, 'dist'));
  }
  distDirs.push(join(root, 'test', 'dist'));
  return distDirs
    .flatMap((d) => collect(d, []))
    .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
    .sort();
}

function parseArgs(argv) {
  const explicitFiles = [];
  const filters = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--file') explicitFiles.push(resolve(argv[++i] ?? ''));
    else filters.push(argv[i]);
  }
  return { explicitFiles, filters };
}

// The AWS SDK's notice that it will need Node 22 from 2027 on is printed by every process that makes a client:
// useful once for a user (`npm start` still shows it), noise dozens of times in a test log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { explicitFiles, filters } = parseArgs(process.argv.slice(2));
const files = explicitFiles.length > 0 ? explicitFiles : workspaceTestFiles(filters);

if (files.length === 0) {
  console.log('no test files found (did `tsc -b` run?)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
/** Failures the reporter may not show as such (empty suites and files), printed again above the summary. */
const harnessFailures = [];
/** Per file, per nesting level: how many tests or suites reported since the last parent at the level above. */
const childCounts = new Map();

function takeChildCount(file, nesting) {
  const counts = childCounts.get(file) ?? [];
  childCounts.set(file, counts);
  const ownChildren = counts[nesting + 1] ?? 0;
  counts[nesting + 1] = 0;
  counts[nesting] = (counts[nesting] ?? 0) + 1;
  return ownChildren;
}

/** node:test reports a file that ran no test of its own as one test named after the file. */
const isFileLevel = (e) => e.nesting === 0 && e.file !== undefined && resolve(e.name) === resolve(e.file);

// A file that never ends (a handle left open, a hung await) fails at this timeout instead of hanging CI.
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);
const stream = run({ files, concurrency: Number(process.env.TEST_CONCURRENCY ?? 2), timeout: fileTimeoutMs });
stream.on('test:pass', (e) => {
  const children = takeChildCount(e.file, e.nesting);
  if (e.skip || e.todo) return;
  if (e.details?.type === 'suite') {
    if (children === 0) harnessFailures.push(`suite "${e.name}" (${e.file}) registered no test`);
  } else if (isFileLevel(e)) {
    harnessFailures.push(`${e.file} registered no test`);
  } else {
    passed++;
  }
});
stream.on('test:fail', (e) => {
  takeChildCount(e.file, e.nesting);
  if (e.todo) return;
  if (e.details?.type === 'suite' && e.details?.error?.failureType === 'subtestsFailed') return;
  failed++;
});
// A failure of the runner itself (a file that cannot be spawned, a reporter error) must end red, not silently.
stream.on('error', (err) => {
  harnessFailures.push(`test runner error: ${err?.stack ?? err}`);
});
const reporter = typeof spec === 'function' && spec.prototype?.constructor === spec ? new spec() : spec;
stream.compose(reporter).pipe(process.stdout);
stream.on('end', () => {
  setImmediate(() => {
    failed += harnessFailures.length;
    for (const message of harnessFailures) console.log(`✖ ${message}`);
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
  });
});
