import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENV_SCHEMA, renderEnvTable } from '@step1x/config';
import { workspaceRoot } from '@step1x/tensors';

const readme = () => readFileSync(join(workspaceRoot(), 'README.md'), 'utf8');

describe('README', () => {
  it('holds the environment table exactly as the config schema renders it', () => {
    assert.ok(readme().includes(renderEnvTable().trimEnd()), 'regenerate the README table with renderEnvTable()');
    for (const name of Object.keys(ENV_SCHEMA)) assert.ok(readme().includes(`\`${name}\``), name);
  });

  it('starts with the two quick-start commands', () => {
    const text = readme();
    assert.match(text, /^npm ci && npm start\b/m);
    assert.match(text, /^npm ci && npm test\b/m);
  });
});
