import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENV_SCHEMA } from './config.schema';
import { renderEnvTable } from './env-table';
import { parseDurationMs } from './env-var';
import { ConfigError, loadConfig, MissingRedisUrlError, requireRedisUrl } from './load-config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => p.name);
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.server.port, 3000);
    assert.equal(config.redis.url, null);
    assert.equal(config.s3.endpoint, null);
    assert.equal(config.limits.maxJsonBodyBytes, 256 * 1024);
    assert.equal(config.limits.maxUploadBytes, 20 * 1024 * 1024);
    assert.equal(config.limits.preferWaitMaxS, 60);
    assert.equal(config.limits.idempotencyTtlS, 86_400);
    assert.equal(config.retention.objectDays, 7);
    assert.deepEqual(config.auth.apiKeys, []);
    assert.deepEqual(config.egress.allowlist, []);
    const h = 3_600_000;
    assert.deepEqual(config.webhooks.retryScheduleMs, [0, 5_000, 300_000, 1_800_000, 2 * h, 5 * h, 10 * h, 10 * h]);
    assert.equal(config.webhooks.jitter, 0.2);
  });

  it('reads every kind of variable', () => {
    const config = loadConfig({
      PORT: '8080',
      REDIS_URL: 'redis://127.0.0.1:6390/2',
      S3_ENDPOINT: 'http://127.0.0.1:4568',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      API_KEYS: 'acme:sk_test_0123456789, globex:sk_test_abcdefgh',
      EGRESS_ALLOWLIST: '127.0.0.2/32,::1',
      WEBHOOK_RETRY_SCHEDULE: '0,200ms,1s',
      WEBHOOK_RETRY_JITTER: '0',
      ROLE: 'api',
    });
    assert.equal(config.server.port, 8080);
    assert.equal(config.server.role, 'api');
    assert.equal(config.redis.url, 'redis://127.0.0.1:6390/2');
    assert.equal(config.s3.forcePathStyle, true);
    assert.deepEqual(config.auth.apiKeys, [
      { tenantId: 'acme', key: 'sk_test_0123456789' },
      { tenantId: 'globex', key: 'sk_test_abcdefgh' },
    ]);
    assert.deepEqual(config.egress.allowlist, ['127.0.0.2/32', '::1']);
    assert.deepEqual(config.webhooks.retryScheduleMs, [0, 200, 1000]);
  });

  it('names every invalid variable in one error and hides secrets', () => {
    const env = {
      PORT: 'eighty',
      REDIS_URL: 'http://redis',
      API_KEYS: 'no-colon-here',
      EGRESS_ALLOWLIST: '127.0.0.300',
      WEBHOOK_RETRY_SCHEDULE: '0,soon',
      S3_FORCE_PATH_STYLE: 'maybe',
      QUEUE_MAX_DEPTH: '0',
    };
    assert.deepEqual(problemsOf(env).sort(), Object.keys(env).sort());
    try {
      loadConfig(env);
    } catch (error) {
      const message = (error as Error).message;
      assert.match(message, /^Invalid environment variables: /);
      assert.match(message, /PORT="eighty" \(must be an integer\)/);
      assert.ok(!message.includes('no-colon-here'), 'API_KEYS value must not be echoed');
    }
  });

  it('checks variables that only make sense together', () => {
    assert.deepEqual(problemsOf({ S3_ACCESS_KEY_ID: 'AKIA' }), ['S3_SECRET_ACCESS_KEY']);
    assert.deepEqual(problemsOf({ API_KEYS: 'a:samekey123,b:samekey123' }), ['API_KEYS']);
  });

  it('treats an empty value as unset', () => {
    assert.equal(loadConfig({ PORT: '', REDIS_URL: '' }).server.port, 3000);
    assert.equal(loadConfig({ REDIS_URL: '' }).redis.url, null);
  });
});

describe('requireRedisUrl', () => {
  it('returns REDIS_URL when set', () => {
    assert.equal(
      requireRedisUrl(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390' }), 'worker'),
      'redis://127.0.0.1:6390',
    );
  });

  it('refuses an unset REDIS_URL with a code and says which role needs it', () => {
    for (const role of ['api', 'worker'] as const) {
      assert.throws(
        () => requireRedisUrl(loadConfig({}), role),
        (error: unknown) =>
          error instanceof MissingRedisUrlError &&
          error.code === 'missing_redis_url' &&
          error.role === role &&
          error.message.includes(role === 'api' ? 'the API' : 'the worker') &&
          /REDIS_URL is unset/.test(error.message),
      );
    }
  });
});

describe('parseDurationMs', () => {
  it('understands units and bare milliseconds', () => {
    assert.equal(parseDurationMs('250'), 250);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('2h'), 7_200_000);
    assert.throws(() => parseDurationMs('-5s'));
  });
});

describe('renderEnvTable', () => {
  it('has one row per variable with its default', () => {
    const lines = renderEnvTable().trimEnd().split('\n');
    assert.equal(lines.length, 2 + Object.keys(ENV_SCHEMA).length);
    const port = lines.find((line) => line.startsWith('| `PORT` |'));
    assert.ok(port?.includes('`3000`'));
    for (const line of lines.slice(2)) assert.equal(line.split(/(?<!\\)\|/).length, 6, line);
  });
});
