import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';

// Compiled to test/dist/tooling: the repository root is three levels up.
const ROOT = join(__dirname, '..', '..', '..');

/**
 * The package boundaries of eslint.config.mjs (docs/ARCHITECTURE.md, "Package boundaries") on fixtures: each
 * breaking import must be reported, each allowed one must not, so the rules cannot silently be off.
 */
describe('eslint package boundaries', () => {
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: ROOT });
  });

  /** The `no-restricted-imports` messages for `source` as if it were the file at `path`. */
  async function boundaryErrors(path: string, source: string): Promise<string[]> {
    const [result] = await eslint.lintText(`${source}\nexport {};\n`, { filePath: join(ROOT, path) });
    assert.ok(result, `${path} was linted`);
    const ignored = result.messages.find((m) => m.ruleId === null && /ignored/.test(m.message));
    assert.equal(ignored, undefined, `${path} must not be ignored by the config`);
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  }

  it('classifies every package (production or dev/test), so a new one cannot escape the rules', async () => {
    for (const group of ['apps', 'libs']) {
      for (const name of readdirSync(join(ROOT, group))) {
        const config = (await eslint.calculateConfigForFile(join(ROOT, group, name, 'src', 'fixture.ts'))) as {
          rules?: Record<string, unknown>;
        };
        const rule = config.rules?.['no-restricted-imports'];
        assert.ok(Array.isArray(rule) && [2, 'error'].includes(rule[0]), `${group}/${name} has no boundary rules`);
      }
    }
  });

  const refused: Array<[string, string, RegExp]> = [
    ['apps/worker/src/fixture.ts', "import '@step1x/model-builder';", /graph builder is a dev tool/],
    ['apps/api/src/fixture.ts', "import '@step1x/local-services';", /local-services/],
    ['libs/pipeline/src/fixture.ts', "import '@step1x/golden-checks';", /golden checks/],
    ['apps/worker/src/fixture.ts', "import '@step1x/cli';", /CLI is a launcher/],
    ['apps/api/src/fixture.ts', "import '../../../test/support/redis-server';", /test support/],
    ['libs/storage/src/fixture.ts', "import './object-store.contract';", /test support/],
    ['libs/job-queue/src/fixture.ts', "import './testing/edit-records';", /test support/],
    ['libs/edit-store/src/fixture.ts', "import 'node:test';", /test-only modules/],
    ['libs/webhooks/src/fixture.ts', "import '@step1x/worker';", /library may not import an app/],
    ['apps/api/src/fixture.ts', "import '@step1x/worker';", /deploy apart/],
    ['apps/api/src/fixture.ts', "import 'ioredis';", /may import ioredis/],
    ['libs/edit-store/src/edit-record.codec.ts', "import 'ioredis';", /may import ioredis/],
    ['libs/job-queue/src/job-registry.ts', "import 'bullmq';", /may import bullmq/],
    ['libs/edit-store/src/redis-stores.ts', "import 'bullmq';", /may import bullmq/],
    ['libs/pipeline/src/edit-pipeline.ts', "import 'onnxruntime-node';", /may import onnxruntime-node/],
    ['apps/worker/src/fixture.ts', "import '@aws-sdk/client-s3';", /may import @aws-sdk/],
    ['libs/pipeline/src/vae/fixture.ts', "import sharp from 'sharp'; void sharp;", /may import sharp/],
    ['libs/pipeline/src/preprocess/image-io.ts', "import sharp from 'sharp'; void sharp;", /may import sharp/],
    ['apps/api/src/fixture.ts', "import sharp from 'sharp'; void sharp;", /may import sharp/],
    ['apps/cli/src/fixture.ts', "import 'onnxruntime-node';", /may import onnxruntime-node/],
  ];
  for (const [path, source, message] of refused) {
    it(`refuses ${source} in ${path}`, async () => {
      const errors = await boundaryErrors(path, source);
      assert.equal(errors.length, 1, `expected one boundary error, got ${JSON.stringify(errors)}`);
      assert.match(errors[0], message);
    });
  }

  const allowed: Array<[string, string]> = [
    ['libs/edit-store/src/redis-connection.ts', "import 'ioredis';"],
    ['libs/job-queue/src/bullmq-job-queue.ts', "import 'bullmq'; import 'ioredis';"],
    ['libs/pipeline/src/runtime/ort-session.ts', "import 'onnxruntime-node';"],
    ['libs/storage/src/s3-object-store.ts', "import '@aws-sdk/client-s3';"],
    ['libs/imaging/src/decode.ts', "import sharp from 'sharp'; void sharp;"],
    ['apps/cli/src/fixture.ts', "import '@step1x/model-builder'; import '@step1x/local-services';"],
    ['libs/model-builder/src/fixture.ts', "import '@step1x/model-format';"],
    ['libs/pipeline/src/fixture.ts', "import '@step1x/model-format'; import '@step1x/imaging';"],
    ['apps/worker/src/fixture.spec.ts', "import 'ioredis'; import '../../../test/support/redis-server';"],
    ['libs/job-queue/src/testing/fixture.ts', "import '@step1x/local-services';"],
    ['test/e2e/fixture.ts', "import '@step1x/model-builder'; import 'ioredis';"],
  ];
  for (const [path, source] of allowed) {
    it(`allows ${source} in ${path}`, async () => {
      assert.deepEqual(await boundaryErrors(path, source), []);
    });
  }
});
