import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { getFreePort } from '../support/free-port';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { tinyModelsDir } from '../support/tiny-models';
import { API_MAIN, spawnService, WORKER_MAIN } from './service-harness';

/** Workspaces a production process must never load (docs/ARCHITECTURE.md, "Package boundaries"). */
const SCAFFOLDING = ['libs/model-builder', 'libs/local-services', 'libs/golden-checks', 'apps/cli', 'test'];

/**
 * The production entry points (`node apps/api/dist/main.js`, `node apps/worker/dist/main.js`) and the hard edge
 * of the models: a worker given REDIS_URL (a deployment, not local mode) must be given MODELS_DIR, and must not
 * serve random-weight models unless told to (ALLOW_RANDOM_WEIGHTS, tests and demos). Random weights run only in
 * local mode, where the edit object says so (service-embedded.e2e-spec).
 */
describe('service entry points and the models a worker may serve (e2e)', () => {
  let redis: RedisServerHandle;
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedisServer();
    // A real Redis, so no refusal can be a connection failure; S3 on a closed loopback port (never needed here).
    env = {
      REDIS_URL: redis.url,
      S3_ENDPOINT: `http://127.0.0.1:${await getFreePort()}`,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'unused',
      S3_SECRET_ACCESS_KEY: 'unused',
      API_KEYS: 'acme:sk_e2e_acme_0123456789',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    };
  });
  after(async () => {
    await redis?.stop();
  });

  it('the production entry points load no dev or test scaffolding', () => {
    const root = join(__dirname, '..', '..', '..');
    const script = `
      require(${JSON.stringify(API_MAIN)});
      require(${JSON.stringify(WORKER_MAIN)});
      const { relative, sep } = require('node:path');
      const dirs = new Set(Object.keys(require.cache).map((f) => relative(${JSON.stringify(root)}, f).split(sep))
        .filter(([group]) => group === 'libs' || group === 'apps' || group === 'test')
        .map(([group, name]) => (group === 'test' ? 'test' : group + '/' + name)));
      console.log(JSON.stringify([...dirs].sort()));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as string[];
    assert.ok(loaded.includes('apps/api') && loaded.includes('apps/worker') && loaded.includes('libs/pipeline'));
    assert.deepEqual(
      loaded.filter((dir) => SCAFFOLDING.includes(dir)),
      [],
      `loaded: ${loaded.join(', ')}`,
    );
  });

  const entries = {
    'node apps/worker/dist/main.js': { entry: [WORKER_MAIN], role: 'worker' },
    'step1x start, ROLE=worker': { entry: undefined, role: 'worker' },
    'step1x start, ROLE=all': { entry: undefined, role: 'all' },
  } as const;
  for (const [name, { entry, role }] of Object.entries(entries)) {
    it(`${name} with REDIS_URL and no MODELS_DIR exits 1 saying MODELS_DIR is required`, async () => {
      const service = spawnService({ ...env, ROLE: role }, entry);
      const exit = await service.exited;
      const output = service.process.output();
      assert.equal(exit.code, 1, output);
      assert.match(output, /\[models_dir_required\].*MODELS_DIR is not set/);
      assert.match(output, /random-weight models run only in local mode/);
      assert.doesNotMatch(output, /taking jobs/);
    });
  }

  it('the worker refuses random-weight models without ALLOW_RANDOM_WEIGHTS; with it, it runs and stops on SIGTERM', async () => {
    const modelsDir = await tinyModelsDir();
    const refused = spawnService({ ...env, MODELS_DIR: modelsDir }, [WORKER_MAIN]);
    const exit = await refused.exited;
    assert.equal(exit.code, 1, refused.process.output());
    assert.match(refused.process.output(), /\[models_random_weights\].*RANDOM weights/);
    assert.doesNotMatch(refused.process.output(), /taking jobs/);

    const allowed = spawnService({ ...env, MODELS_DIR: modelsDir, ALLOW_RANDOM_WEIGHTS: 'true' }, [WORKER_MAIN]);
    await allowed.waitForOutput(/taking jobs/);
    assert.match(allowed.process.output(), /RANDOM weights: outputs are not meaningful edits/);
    allowed.kill('SIGTERM');
    const stopped = await allowed.exited;
    assert.deepEqual(
      { code: stopped.code, signal: stopped.signal },
      { code: 0, signal: null },
      allowed.process.output(),
    );
  });

  it('node apps/api/dist/main.js serves the API and stops on SIGTERM', async () => {
    const api = spawnService(env, [API_MAIN]);
    try {
      const [, url] = await api.waitForOutput(/API listening on (http:\/\/\S+)/);
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      const unauthenticated = await fetch(`${url}/v1/edits`);
      assert.equal(unauthenticated.status, 401);
      api.kill('SIGTERM');
      const exit = await api.exited;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, api.process.output());
    } finally {
      await api.process.stop(10_000);
    }
  });
});
