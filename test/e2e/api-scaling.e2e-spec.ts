import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ScalingSnapshot } from '@step1x/api';
import { errorOf, multipartOf, pngOf, startApiHarness, type ApiHarness } from './api-harness';

const INTERNAL_TOKEN = 'internal-token-for-the-autoscaler-0123456789';

/** `GET /internal/scaling`: what KEDA's metrics-api trigger and the fleet test's autoscaler read. */
describe('API internal scaling endpoint (e2e)', () => {
  let api: ApiHarness;
  let png: Buffer;

  before(async () => {
    api = await startApiHarness({ INTERNAL_API_TOKEN: INTERNAL_TOKEN });
    png = await pngOf(64, 48);
  });
  after(() => api.stop());

  const scaling = (authorization?: string) =>
    api.call('/internal/scaling', { tenant: null, headers: authorization ? { authorization } : {} });
  const submit = async (priority: 'interactive' | 'batch') => {
    const body = multipartOf({ instruction: 'make it blue', priority }, { bytes: png });
    const response = await api.call('/v1/edits', { method: 'POST', body });
    assert.equal(response.status, 202);
  };

  it('refuses a request without the internal token, and a tenant API key is not that token', async () => {
    const none = await errorOf(await scaling());
    assert.deepEqual([none.status, none.code], [401, 'unauthorized']);
    const tenantKey = await errorOf(await api.call('/internal/scaling', { tenant: 'acme' }));
    assert.deepEqual([tenantKey.status, tenantKey.code], [401, 'unauthorized']);
    const wrong = await errorOf(await scaling(`Bearer ${INTERNAL_TOKEN}x`));
    assert.deepEqual([wrong.status, wrong.code], [401, 'unauthorized']);
  });

  it('counts queued edits per lane, and the backlog; the oldest wait grows while nothing runs', async () => {
    const empty = await scaling(`Bearer ${INTERNAL_TOKEN}`);
    assert.equal(empty.status, 200);
    const zero = (await empty.json()) as ScalingSnapshot;
    assert.deepEqual(
      { queued: zero.queued, delayed: zero.delayed, running: zero.running, backlog: zero.backlog },
      { queued: { interactive: 0, batch: 0 }, delayed: 0, running: 0, backlog: 0 },
    );
    assert.deepEqual(zero.oldest_wait_s, { interactive: null, batch: null, any: null });

    await submit('batch');
    await submit('interactive');
    await submit('batch');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const snapshot = (await (await scaling(`Bearer ${INTERNAL_TOKEN}`)).json()) as ScalingSnapshot;
    assert.deepEqual(snapshot.queued, { interactive: 1, batch: 2 });
    assert.equal(snapshot.backlog, 3);
    assert.equal(snapshot.running, 0);
    const { batch, interactive, any } = snapshot.oldest_wait_s;
    assert.ok(batch !== null && interactive !== null && any !== null);
    // The first batch edit was queued before the interactive one, so it has waited longer.
    assert.ok(batch >= 0.3 && batch > interactive, JSON.stringify(snapshot.oldest_wait_s));
    assert.equal(any, batch);
    // The Prometheus trigger's series carries the same number.
    const metrics = await (await api.call('/metrics', { tenant: null })).text();
    assert.match(metrics, /^step1x_queue_backlog 3$/m);
  });
});

describe('API internal scaling endpoint without INTERNAL_API_TOKEN (e2e)', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApiHarness();
  });
  after(() => api.stop());

  it('does not exist: 404 in the error shape, whatever the Authorization header', async () => {
    for (const headers of [new Headers(), new Headers({ authorization: 'Bearer anything-at-all-anything-at-all' })]) {
      const error = await errorOf(await api.call('/internal/scaling', { tenant: null, headers }));
      assert.deepEqual([error.status, error.code], [404, 'not_found']);
    }
  });
});
