#!/usr/bin/env node
// `npm run chaos`: the chaos suite (test/chaos) at the sizes (CHAOS_PROFILE=full unless set), in one
// process so that its table reaches the terminal. `npm test` runs the same file with the smaller `ci` profile.
// Exits non-zero when any fault lost an edit, duplicated an output or left an edit unfinished.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const suite = join(root, 'test', 'dist', 'chaos', 'chaos.e2e-spec.js');
if (!existsSync(suite)) {
  console.error(`${suite} is missing (did \`tsc -b\` run?)`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test-reporter=spec', suite], {
  stdio: 'inherit',
  env: {
    ...process.env,
    CHAOS_PROFILE: process.env.CHAOS_PROFILE ?? 'full',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
});
process.exitCode = result.status ?? 1;
