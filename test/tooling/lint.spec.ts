import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';

// Compiled to test/dist/tooling: the repository root is three levels up.
const ROOT = join(__dirname, '..', '..', '..');

/** `npm run lint` as part of `npm test`: counted in the one summary line instead of a separate step. */
describe('npm run lint', () => {
  it('reports no eslint error anywhere in the repository (package boundaries included)', async () => {
    const results = await new ESLint({ cwd: ROOT }).lintFiles(['.']);
    const errors = results.flatMap((result) =>
      result.messages
        .filter((message) => message.severity === 2)
        .map((m) => `${relative(ROOT, result.filePath)}:${m.line}:${m.column} ${m.ruleId ?? ''} ${m.message}`),
    );
    assert.ok(results.length > 100, `eslint saw only ${results.length} files`);
    assert.deepEqual(errors, []);
  });
});
