#!/usr/bin/env node
// Runs every compiled benchmark (`*.bench.js`) one after another, each in its own process, and reports which
// failed. Benchmarks print their own numbers and exit non-zero when a target is missed.
// Usage: node scripts/run-bench.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const found = [];
const walk = (dir) => {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.bench.js')) found.push(path);
  }
};
for (const group of ['libs', 'apps'])
  for (const pkg of readdirSync(join(root, group))) walk(join(root, group, pkg, 'dist'));
walk(join(root, 'test', 'dist'));
const filters = process.argv.slice(2);
const benches = found.filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s))).sort();
let failed = 0;
for (const bench of benches) {
  console.log(`\n## ${relative(root, bench)}`);
  const r = spawnSync(process.execPath, ['--expose-gc', bench], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
console.log(`\n${benches.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
