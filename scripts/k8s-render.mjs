#!/usr/bin/env node
// Renders every kustomize overlay into k8s/rendered/ (checked in, so the schema tests run where kubectl is
// missing; test/fleet/manifests.spec.ts fails when a rendering is stale). Needs kubectl (kustomize built in).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
mkdirSync(join(root, 'k8s', 'rendered'), { recursive: true });
for (const overlay of ['base', 'overlays/dev', 'overlays/gpu']) {
  const text = execFileSync('kubectl', ['kustomize', join(root, 'k8s', overlay)], { encoding: 'utf8' });
  const file = join(root, 'k8s', 'rendered', `${overlay.replace('overlays/', '')}.yaml`);
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
