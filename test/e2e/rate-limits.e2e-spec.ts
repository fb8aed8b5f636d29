import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  multipartOf,
  pngOf,
  spawnService,
  startServiceStack,
  TENANTS,
  type ServiceProcess,
  type ServiceStack,
  type TenantName,
} from './service-harness';

const RPS = 5;
const EDITS_PER_MIN = 3;

interface Answer {
  status: number;
  code: string | null;
  limit: number | null;
  remaining: number | null;
  reset: number | null;
  policy: string | null;
  retryAfter: number | null;
}

/**
 * Per-API-key rate limits (CONTRACT.md "Fair scheduling and limits") counted in one redis-server by two API
 * processes: whichever replica answers, the key's budget is the same one. No worker: edits stay queued.
 */
describe('rate limits shared by two API processes (e2e)', () => {
  let stack: ServiceStack;
  let second: ServiceProcess;
  let apiUrls: [string, string];
  let png: Buffer;

  before(async () => {
    stack = await startServiceStack({
      RATE_LIMIT_RPS: String(RPS),
      RATE_LIMIT_BURST: '0',
      RATE_LIMIT_EDITS_PER_MIN: String(EDITS_PER_MIN),
    });
    second = spawnService({ ...stack.env, ROLE: 'api', LOG_LEVEL: 'warn' });
    const [, secondUrl] = await second.waitForOutput(/is up at (http:\/\/\S+)/);
    apiUrls = [stack.apiUrl, secondUrl];
    png = await pngOf(32, 32);
  });
  after(async () => {
    await second?.process.stop(10_000);
    await stack?.stop();
  });

  /** One request through replica `replica` (0 or 1). */
  async function call(replica: number, path: string, init: RequestInit = {}, tenant: TenantName = 'acme') {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${TENANTS[tenant].key}`);
    const response = await fetch(`${apiUrls[replica]}${path}`, { ...init, headers });
    const body = (await response.json()) as { error?: { code: string } };
    const int = (name: string) => (response.headers.has(name) ? Number(response.headers.get(name)) : null);
    return {
      status: response.status,
      code: body.error?.code ?? null,
      limit: int('ratelimit-limit'),
      remaining: int('ratelimit-remaining'),
      reset: int('ratelimit-reset'),
      policy: response.headers.get('ratelimit-policy'),
      retryAfter: int('retry-after'),
    } satisfies Answer;
  }

  it(`RATE_LIMIT_RPS=${RPS}: 12 requests at once over both replicas → exactly ${RPS} pass, counting down`, async () => {
    // The window is 1 s from the key's first request: a round counts only when all 12 answers came within it
    // (a loaded machine may need another round, after the window has passed).
    for (let round = 1; ; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => call(i % 2, i % 4 < 2 ? '/v1/edits?limit=1' : '/v1/webhooks/secret')),
      );
      if (Date.now() - started > 900) {
        assert.ok(round < 4, 'three rounds each took longer than the 1 s window');
        continue;
      }
      const passed = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      assert.equal(passed.length, RPS, JSON.stringify(answers));
      assert.equal(refused.length, 12 - RPS);
      assert.deepEqual(
        passed.map((a) => a.remaining).sort(),
        Array.from({ length: RPS }, (_, i) => i),
        'one shared budget: remaining 4, 3, 2, 1, 0 across both replicas',
      );
      for (const a of passed) {
        assert.equal(a.limit, RPS);
        assert.equal(a.policy, `${RPS};w=1`);
        assert.ok(a.reset !== null && a.reset >= 0 && a.reset <= 1);
      }
      for (const a of refused) {
        assert.equal(a.code, 'rate_limited');
        assert.equal(a.remaining, 0);
        assert.ok(a.retryAfter !== null && a.retryAfter >= 1 && a.retryAfter <= 1, `Retry-After ${a.retryAfter}`);
      }
      break;
    }
    // After the window the key may call again, on either replica, and error answers carry the fields too.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const missing = await call(1, '/v1/edits/edit_01ARZ3NDEKTSV4RRFFQ69G5FAV');
    assert.equal(missing.status, 404);
    assert.equal(missing.limit, RPS);
    assert.equal(missing.remaining, RPS - 1);
    const noKey = await fetch(`${apiUrls[0]}/v1/edits`);
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers.get('ratelimit-limit'), null, 'no key, nothing counted');
    const wrongKey = await fetch(`${apiUrls[1]}/v1/edits`, {
      headers: { authorization: 'Bearer sk_wrong_0123456789' },
    });
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.headers.get('ratelimit-remaining'), String(RPS - 1), 'a wrong key is limited too');
  });

  it(`RATE_LIMIT_EDITS_PER_MIN=${EDITS_PER_MIN}: created edits share one budget; then 429 with Retry-After`, async () => {
    const create = (replica: number) =>
      call(
        replica,
        '/v1/edits',
        { method: 'POST', body: multipartOf({ instruction: 'rate me' }, { bytes: png, type: 'image/png' }) },
        'globex',
      );
    const answers: Answer[] = [];
    for (let i = 0; i < EDITS_PER_MIN + 1; i++) {
      answers.push(await create(i % 2));
      if (i === 0) {
        // A refused request creates no edit, so it is given back: the budget is for created edits.
        const invalid = await call(1, '/v1/edits', { method: 'POST', body: multipartOf({ instruction: ' ' }, { bytes: png, type: 'image/png' }) }, 'globex'); // prettier-ignore
        assert.equal(invalid.status, 400);
        assert.equal(invalid.remaining, EDITS_PER_MIN - 1, 'the answer shows the budget after the refund');
      }
    }
    assert.deepEqual(
      answers.map((a) => [a.status, a.remaining]),
      [
        [202, 2],
        [202, 1],
        [202, 0],
        [429, 0],
      ],
    );
    assert.ok(answers.every((a) => a.limit === EDITS_PER_MIN && a.policy !== '5;w=1'));
    assert.equal(answers[0].policy, `${EDITS_PER_MIN};w=60`);
    assert.equal(answers[3].code, 'rate_limited');
    assert.ok(answers[3].retryAfter! >= 1 && answers[3].retryAfter! <= 60, `Retry-After ${answers[3].retryAfter}`);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1 s request window of those five calls
    const list = await call(0, '/v1/edits?limit=10', {}, 'globex');
    assert.equal(list.status, 200, 'reading is limited by the request rate only');
  });

  it('documents the RateLimit fields and 429 on every /v1 operation in OpenAPI', async () => {
    const doc = (await (await fetch(`${apiUrls[0]}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
      components: { headers: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    for (const name of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After']) {
      assert.ok(doc.components.headers[name], name);
    }
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith('/v1/'));
    assert.ok(v1.length >= 8);
    for (const [path, item] of v1) {
      for (const [method, operation] of Object.entries(item)) {
        assert.ok(operation.responses['429']?.headers?.['Retry-After'], `${method} ${path}: 429 with Retry-After`);
        const ok = Object.entries(operation.responses).find(([status]) => status.startsWith('2'));
        assert.ok(ok?.[1].headers?.['RateLimit-Remaining'], `${method} ${path}: RateLimit fields`);
      }
    }
    assert.ok(doc.paths['/v1/edits/{id}/deliveries'].get);
    assert.ok(doc.paths['/v1/edits/{id}/webhooks/replay'].post.responses['409']);
    assert.ok(doc.paths['/v1/webhooks/secret/rotate'].post);
    assert.ok(doc.components.schemas.DeliveryList && doc.components.schemas.WebhookSecretRotation);
  });

  it('Redis out of reach: 503 service_unavailable with Retry-After, not a hang and not a pass', async () => {
    stack.redisClient.on('error', () => undefined); // the harness's own client: its reconnect noise is expected
    await stack.redis.stop();
    const started = Date.now();
    const answer = await call(0, '/v1/edits?limit=1');
    assert.equal(answer.status, 503);
    assert.equal(answer.code, 'service_unavailable');
    assert.ok(answer.retryAfter !== null && answer.retryAfter >= 1);
    // The limiter refuses while the connection is down, before any command waits for a reconnect.
    assert.ok(Date.now() - started < 2_000, `answered in ${Date.now() - started} ms`);
  });
});
