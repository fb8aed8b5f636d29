import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { workspaceRoot } from '@step1x/tensors';

// Runs scripts/run-tests.mjs on fixture files that fail at every level node:test knows (suite, hook, file) and
// checks the one summary line and the exit code: the harness must not be able to report green while something
// failed.
const fixture = (name: string) => join(workspaceRoot(), 'test', 'harness', 'fixtures', `${name}.fixture.mjs`);

/** The environment of a runner started from inside a test: without node:test's marker that this is a child. */
function runnerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_CONCURRENCY: '4', ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function runRunner(fixtures: string[], env: Record<string, string> = {}) {
  const args = [join(workspaceRoot(), 'scripts', 'run-tests.mjs')];
  for (const f of fixtures) args.push('--file', fixture(f));
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: runnerEnv(env),
    timeout: 120_000,
  });
  const lines = r.stdout.trimEnd().split('\n');
  return { status: r.status, summary: lines[lines.length - 1], stdout: r.stdout };
}

describe('scripts/run-tests.mjs counts every failure', () => {
  const cases: Array<[string, string[], string]> = [
    ['a passing file', ['passing'], '2 passed, 0 failed'],
    ['a describe body that throws before registering a test', ['throwing-describe'], '0 passed, 1 failed'],
    ['failing before and after hooks', ['failing-hooks'], '1 passed, 3 failed'],
    ['a file that crashes after its test passed', ['crashing'], '1 passed, 1 failed'],
    ['a file that throws at top level', ['top-level-throw'], '0 passed, 1 failed'],
    ['a failing test inside a suite (counted once)', ['failing-test'], '1 passed, 1 failed'],
    ['a suite that registers no test', ['empty-suite'], '0 passed, 1 failed'],
    ['a file that registers no test', ['no-test'], '0 passed, 1 failed'],
  ];
  for (const [what, fixtures, summary] of cases) {
    it(`${what}: "${summary}"`, () => {
      const r = runRunner(fixtures);
      assert.equal(r.summary, summary, r.stdout);
      assert.equal(r.status, summary.endsWith(' 0 failed') ? 0 : 1, r.stdout);
    });
  }

  it('a passing file beside every kind of failure still ends red with one summary line', () => {
    const all = ['passing', 'throwing-describe', 'failing-hooks', 'crashing', 'top-level-throw', 'failing-test'];
    const r = runRunner(all);
    assert.equal(r.summary, '5 passed, 7 failed', r.stdout);
    assert.equal(r.status, 1);
    assert.equal(r.stdout.match(/^\d+ passed, \d+ failed$/gm)?.length, 1, 'exactly one summary line');
  });

  it('a file that never exits fails at the file timeout', () => {
    const r = runRunner(['never-ending'], { TEST_FILE_TIMEOUT_MS: '5000' });
    // Its passing test may or may not have reported before the timeout on a loaded machine; the file's failure must.
    assert.match(r.summary, /^[01] passed, 1 failed$/, r.stdout);
    assert.equal(r.status, 1);
  });

  it('no test file at all is a failure', () => {
    const r = spawnSync(process.execPath, [join(workspaceRoot(), 'scripts', 'run-tests.mjs'), 'no-such-test-file'], {
      encoding: 'utf8',
      env: runnerEnv(),
    });
    assert.match(r.stdout, /^0 passed, 1 failed$/m);
    assert.equal(r.status, 1);
  });
});
