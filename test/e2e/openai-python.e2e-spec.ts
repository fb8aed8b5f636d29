import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EditObject } from '@step1x/contracts';
import { pngOf, startServiceStack, TENANTS, type ServiceStack } from './service-harness';

const run = promisify(execFile);
// Compiled to test/dist/e2e: the repository root is three levels up.
const ROOT = join(__dirname, '..', '..', '..');
const CHECKS = ['models', 'url', 'b64_json', 'n2', 'stream', 'bad_request', 'auth', 'idempotency'] as const;

interface CheckResult {
  check: (typeof CHECKS)[number];
  ok: boolean;
  detail?: string;
  trace?: string;
  edit_ids?: string[];
  types?: string[];
}

/**
 * The official Python `openai` client (pinned in scripts/ensure-python-openai, which installs it into .cache/ from
 * the configured package index) runs test/openai-python/images_edits_check.py against the real service. Nothing is
 * skipped: without Python or the package the suite fails, saying what to install.
 */
describe('OpenAI-compatible image edits: official Python openai client (e2e)', () => {
  let stack: ServiceStack;
  let workDir: string;
  const results = new Map<string, CheckResult>();
  let output = '';

  before(async () => {
    let python: string;
    try {
      python = (await run('bash', [join(ROOT, 'scripts', 'ensure-python-openai')], { timeout: 300_000 })).stdout.trim();
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      throw new Error(`the Python openai client is not available (scripts/ensure-python-openai):\n${stderr ?? error}`);
    }
    stack = await startServiceStack();
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    workDir = await mkdtemp(join(tmpdir(), 'openai-python-'));
    const input = join(workDir, 'input.png');
    await writeFile(input, await pngOf(64, 40));
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      STEP1X_BASE_URL: `${stack.apiUrl}/v1`,
      STEP1X_API_KEY: TENANTS.acme.key,
      STEP1X_MODEL: 'step1x-edit-v1.1',
      STEP1X_INPUT_PNG: input,
    };
    const script = join(ROOT, 'test', 'openai-python', 'images_edits_check.py');
    const done = await run(python, [script], { env, timeout: 300_000 }).catch(
      (error: { stdout?: string; stderr?: string }) => error,
    );
    output = `${done.stdout ?? ''}\n${done.stderr ?? ''}`;
    for (const line of (done.stdout ?? '').split('\n')) {
      if (line.startsWith('{')) {
        const result = JSON.parse(line) as CheckResult;
        results.set(result.check, result);
      }
    }
  });
  after(async () => {
    await stack?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const passed = (name: (typeof CHECKS)[number]): CheckResult => {
    const result = results.get(name);
    assert.ok(result, `the Python script reported no "${name}" check:\n${output}`);
    assert.ok(result.ok, `${name}: ${result.detail}\n${result.trace ?? ''}`);
    return result;
  };
  const edit = async (id: string) => (await (await stack.call(`/v1/edits/${id}`)).json()) as EditObject;

  it('models.list() and models.retrieve() (unknown model: NotFoundError model_not_found)', () => {
    passed('models');
  });

  it("response_format='url' downloads an image of the input's size", async () => {
    const [id] = passed('url').edit_ids!;
    assert.equal((await edit(id)).status, 'succeeded');
  });

  it("response_format='b64_json' decodes to an image of the input's size", () => {
    passed('b64_json');
  });

  it('n=2 gives two different images from two edits with consecutive seeds', async () => {
    const edits = await Promise.all(passed('n2').edit_ids!.map(edit));
    assert.equal(edits.length, 2);
    assert.equal(edits[1].input.seed, (edits[0].input.seed + 1) % 2 ** 32);
  });

  it('stream=True with partial_images=2 yields partial images from step previews, then the final image', async () => {
    const result = passed('stream');
    const partials = result.types!.filter((t) => t === 'image_edit.partial_image');
    assert.equal(partials.length, 1, 'steps 4: one preview (step 2) before the end');
    const [streamed] = await Promise.all(result.edit_ids!.map(edit));
    assert.equal(streamed.input.previews, 2);
  });

  it('bad requests raise BadRequestError with our code and param', () => {
    passed('bad_request');
  });

  it('a wrong key raises AuthenticationError', () => {
    passed('auth');
  });

  it('a retried request with the same Idempotency-Key makes no second edit', () => {
    passed('idempotency');
  });

  it('the script checked exactly these things', () => {
    assert.deepEqual([...results.keys()].sort(), [...CHECKS].sort());
  });
});
