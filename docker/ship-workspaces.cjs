#!/usr/bin/env node
'use strict';
// Assembles what a production image ships (docs/DEPLOY.md, "Images"): the compiled workspaces that the entry
// package really loads, the production node_modules, and nothing else. The closure is taken at run time (the
// entry is required and Node's module cache lists every file it loaded), so a workspace the role does not load at
// boot (the graph builder, the local-services spawner, the CLI) is not shipped, and the build fails when a
// forbidden one is loaded.
//
// usage: node docker/ship-workspaces.cjs --entry @step1x/api --out /out/app [--forbid a,b] [--keep-platform linux/x64]
const {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} = require('node:fs');
const { dirname, join, relative, sep } = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    entry: { type: 'string', multiple: true },
    out: { type: 'string' },
    forbid: { type: 'string', default: '' },
    'keep-platform': { type: 'string', default: 'linux/x64' },
  },
});
const root = process.cwd();
if (!values.entry?.length || !values.out) throw new Error('--entry and --out are required');
const out = values.out;
const forbidden = new Set(values.forbid.split(',').filter(Boolean));

/** Every workspace directory (libs/*, apps/*) by package name. */
const workspaces = new Map();
for (const group of ['libs', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const manifest = join(root, group, name, 'package.json');
    if (existsSync(manifest)) workspaces.set(JSON.parse(readFileSync(manifest, 'utf8')).name, join(group, name));
  }
}

for (const entry of values.entry) require(require.resolve(entry, { paths: [root] }));
const loaded = new Set();
for (const file of Object.keys(require.cache)) {
  const rel = relative(root, file);
  const [group, name] = rel.split(sep);
  if ((group === 'libs' || group === 'apps') && name) loaded.add(join(group, name));
}
const shipped = [...workspaces].filter(([, dir]) => loaded.has(dir));
const bad = shipped.filter(([name]) => forbidden.has(name)).map(([name]) => name);
if (bad.length > 0) {
  console.error(`refusing to ship ${bad.join(', ')}: loaded by ${values.entry.join(', ')} (docs/DEPLOY.md, "Images")`);
  process.exit(1);
}

mkdirSync(out, { recursive: true });
cpSync(join(root, 'package.json'), join(out, 'package.json'));
const skip = (path) =>
  /\.(spec|int-spec|e2e-spec|golden-spec|bench)\.js(\.map)?$|\.tsbuildinfo$|\.d\.ts(\.map)?$/.test(path);
for (const [, dir] of shipped) {
  cpSync(join(root, dir, 'package.json'), join(out, dir, 'package.json'));
  cpSync(join(root, dir, 'dist'), join(out, dir, 'dist'), { recursive: true, filter: (src) => !skip(src) });
  if (existsSync(join(root, dir, 'bin'))) cpSync(join(root, dir, 'bin'), join(out, dir, 'bin'), { recursive: true });
}

// node_modules as pruned by `npm prune --omit=dev`, minus our own workspace links (re-made for shipped ones only).
cpSync(join(root, 'node_modules'), join(out, 'node_modules'), {
  recursive: true,
  verbatimSymlinks: true,
  filter: (src) => relative(join(root, 'node_modules'), src) !== '@step1x',
});
mkdirSync(join(out, 'node_modules', '@step1x'), { recursive: true });
for (const [name, dir] of shipped) {
  const link = join(out, 'node_modules', name);
  symlinkSync(relative(dirname(link), join(out, dir)), link);
}

// onnxruntime-node ships binaries for every platform (about 245 MB that this image never loads).
const ortBin = join(out, 'node_modules', 'onnxruntime-node', 'bin');
if (existsSync(ortBin)) {
  const [keepOs, keepArch] = values['keep-platform'].split('/');
  for (const napi of readdirSync(ortBin)) {
    for (const os of readdirSync(join(ortBin, napi))) {
      if (os !== keepOs) rmSync(join(ortBin, napi, os), { recursive: true });
      else
        for (const arch of readdirSync(join(ortBin, napi, os)))
          if (arch !== keepArch) rmSync(join(ortBin, napi, os, arch), { recursive: true });
    }
  }
}

writeFileSync(join(out, 'SHIPPED_WORKSPACES'), `${shipped.map(([name]) => name).join('\n')}\n`);
console.log(`shipped ${shipped.map(([name]) => name).join(', ')} for ${values.entry.join(', ')}`);
