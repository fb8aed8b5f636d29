import assert from 'node:assert/strict';
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { workspaceRoot } from '@step1x/tensors';
import { builderFingerprint, fingerprintCompiledCode } from './builder-fingerprint';

describe('builderFingerprint', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'builder-fingerprint-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  // A copy of this package's compiled code: dist/ (this file runs from dist/build/).
  const copy = join(tmp, 'model-builder', 'dist');
  cpSync(resolve(__dirname, '..'), copy, { recursive: true });

  it('is the fingerprint of the loaded builder code, stable within a process', () => {
    assert.match(builderFingerprint(), /^[0-9a-f]{64}$/);
    assert.equal(builderFingerprint(), builderFingerprint());
    assert.equal(fingerprintCompiledCode([copy]), builderFingerprint(), 'a copy of the same code, same fingerprint');
  });

  it('changes when any graph code changes (a model definition, the ONNX writer, a config)', () => {
    const before = fingerprintCompiledCode([copy]);
    for (const file of ['export/onnx-writer.js', 'graph/graph-builder.js', 'configs/step1x-tiny.json']) {
      const path = join(copy, file);
      appendFileSync(path, '\n');
      assert.notEqual(fingerprintCompiledCode([copy]), before, `${file} changed but the fingerprint did not`);
      cpSync(resolve(__dirname, '..', file), path);
    }
    assert.equal(fingerprintCompiledCode([copy]), before);
  });

  it('covers the workspace packages the builder requires (@step1x/tensors: random init, fp16 transcoding)', () => {
    const alone = join(tmp, 'alone', 'dist');
    cpSync(copy, alone, { recursive: true });
    const withTensors = fingerprintCompiledCode([alone]);
    const tensorsDir = resolve(require.resolve('@step1x/tensors'), '..');
    assert.equal(fingerprintCompiledCode([alone, tensorsDir]), withTensors, 'tensors was already included');
  });

  it('ignores test files, declarations and source maps', () => {
    const before = fingerprintCompiledCode([copy]);
    writeFileSync(join(copy, 'build', 'extra.spec.js'), 'it()');
    writeFileSync(join(copy, 'build', 'extra.d.ts'), 'export {}');
    writeFileSync(join(copy, 'build', 'extra.js.map'), '{}');
    assert.equal(fingerprintCompiledCode([copy]), before);
  });

  it('keys every cache of built models on it: each source that calls buildOnce( also calls builderFingerprint()', () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          if (name !== 'dist' && name !== 'node_modules') walk(path);
        } else if (name.endsWith('.ts') && !/\.(spec|int-spec|golden-spec|e2e-spec)\.ts$/.test(name))
          sources.push(path);
      }
    };
    for (const group of ['libs', 'apps']) walk(join(workspaceRoot(), group));
    const callers = sources.filter(
      (f) => /\bbuildOnce\(/.test(readFileSync(f, 'utf8')) && !f.endsWith('build-once.ts'),
    );
    assert.ok(callers.length >= 3, `found only ${callers.length} buildOnce callers`);
    for (const f of callers)
      assert.match(
        readFileSync(f, 'utf8'),
        /builderFingerprint\(\)/,
        `${f} caches built models without the builder fingerprint`,
      );
  });
});
