import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getFreePort } from '../support/free-port';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { tinyModelsDir } from '../support/tiny-models';
import { spawnService } from './service-harness';

/**
 * Random weights run only in local mode: a worker given REDIS_URL (a deployment) must be given its models, and
 * must not serve the tiny random-weight models unless told to (ALLOW_RANDOM_WEIGHTS, tests and demos).
 */
describe('worker outside local mode: models are required (e2e)', () => {
  let redis: RedisServerHandle;
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedisServer();
    // A real Redis, so the refusal cannot be a connection failure; S3 on a closed loopback port (never contacted).
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

  for (const role of ['worker', 'all'] as const) {
    it(`ROLE=${role} with REDIS_URL and no MODELS_DIR exits 1 saying MODELS_DIR is required`, async () => {
      const service = spawnService({ ...env, ROLE: role });
      const exit = await service.exited;
      const output = service.process.output();
      assert.equal(exit.code, 1, output);
      assert.match(output, /\[models_dir_required\].*MODELS_DIR is not set/);
      assert.match(output, /random-weight models run only in local mode/);
      assert.doesNotMatch(output, /taking jobs|RANDOM weights: outputs/);
    });
  }

  it('ROLE=worker given the tiny random-weight models exits 1 unless ALLOW_RANDOM_WEIGHTS is set', async () => {
    const modelsDir = await tinyModelsDir();
    const refused = spawnService({ ...env, ROLE: 'worker', MODELS_DIR: modelsDir });
    const exit = await refused.exited;
    assert.equal(exit.code, 1, refused.process.output());
    assert.match(refused.process.output(), /\[models_random_weights\].*RANDOM weights/);
    assert.doesNotMatch(refused.process.output(), /taking jobs/);

    const allowed = spawnService({ ...env, ROLE: 'worker', MODELS_DIR: modelsDir, ALLOW_RANDOM_WEIGHTS: 'true' });
    try {
      await allowed.waitForOutput(/taking jobs/);
      assert.match(allowed.process.output(), /RANDOM weights: outputs are not meaningful edits/);
    } finally {
      await allowed.process.stop(10_000);
    }
  });
});
