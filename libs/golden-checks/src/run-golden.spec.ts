import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkGoldenSet, registerGoldenFormat } from './run-golden';

describe('checkGoldenSet', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'run-golden-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const options = { precision: 'fp32', attention: 'plain' } as const;

  function setOfFormat(name: string, format: string): string {
    const dir = mkdtempSync(join(tmp, name));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format, cases: [] }));
    return dir;
  }

  it('fails a set whose checker yields no case', async () => {
    registerGoldenFormat('test-no-case/1', async () => []);
    const results = await checkGoldenSet(setOfFormat('empty-', 'test-no-case/1'), options);
    assert.equal(results.length, 1);
    assert.equal(results[0].ok, false);
    assert.match(results[0].detail ?? '', /no case to check/);
  });

  it('fails a set whose checker throws, and a set of an unknown format', async () => {
    registerGoldenFormat('test-throws/1', async () => {
      throw new Error('weights missing');
    });
    const thrown = await checkGoldenSet(setOfFormat('throws-', 'test-throws/1'), options);
    assert.deepEqual([thrown.length, thrown[0].ok], [1, false]);
    assert.match(thrown[0].detail ?? '', /weights missing/);
    const unknown = await checkGoldenSet(setOfFormat('unknown-', 'nope/9'), options);
    assert.deepEqual([unknown.length, unknown[0].ok], [1, false]);
  });

  it('passes the results of a checker that checked something through unchanged', async () => {
    const ok = { case: 'a', metric: 0, worst: 'x', ok: true };
    registerGoldenFormat('test-one-case/1', async () => [ok]);
    assert.deepEqual(await checkGoldenSet(setOfFormat('one-', 'test-one-case/1'), options), [ok]);
  });
});
