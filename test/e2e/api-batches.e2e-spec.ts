import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type {
  BatchObject,
  DeliverWebhookPayload,
  EditList,
  EditObject,
  UploadTicket,
  UsageDay,
} from '@step1x/contracts';
import { RedisBatchRepository, RedisKeys, createRedisClient, closeRedisClient } from '@step1x/edit-store';
import { BatchFinalizer, batchCompletedMessageId } from '@step1x/job-queue';
import type { Redis } from 'ioredis';
import { errorOf, jsonInit, pngOf, startApiHarness, type ApiHarness } from './api-harness';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/**
 * The batch routes against the real API, redis-server and s3rver, without a worker: the tests move items through
 * the same store-of-record transitions a worker makes (EditRepository), so counts, finalization and usage are
 * checked at the Redis scripts that keep them. test/e2e/service-batches.e2e-spec.ts runs batches with workers.
 */
describe('API batches (e2e)', () => {
  let api: ApiHarness;
  let images: WebhookReceiver;
  let redis: Redis;
  let batches: RedisBatchRepository;
  let imageKey: string;

  before(async () => {
    api = await startApiHarness({ BATCH_MAX_ITEMS: '1000', QUEUE_MAX_DEPTH: '100000' });
    images = await startWebhookReceiver({ host: '127.0.0.2' });
    redis = createRedisClient(api.redis.url);
    batches = new RedisBatchRepository(redis, new RedisKeys(api.config.redis.keyPrefix), { retentionDays: 30 });
    imageKey = await uploadFor('acme');
  });
  after(async () => {
    await closeRedisClient(redis);
    await images?.stop();
    await api?.stop();
  });

  async function uploadFor(tenant: 'acme' | 'globex'): Promise<string> {
    const png = await pngOf(32, 24);
    const ticket = (await (
      await api.call('/v1/uploads', { ...jsonInit({ content_type: 'image/png', size: png.length }), tenant })
    ).json()) as UploadTicket;
    assert.equal((await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: png })).status, 200);
    return ticket.image_key;
  }
  const items = (count: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: count }, (_, i) => ({ image_key: imageKey, instruction: `edit number ${i}`, ...extra }));
  const post = (body: unknown, headers: Record<string, string> = {}, tenant: 'acme' | 'globex' = 'acme') =>
    api.call('/v1/batches', { ...jsonInit(body, headers), tenant });
  const create = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await post(body, headers);
    assert.equal(response.status, 202, await response.clone().text());
    return (await response.json()) as BatchObject;
  };
  const get = async <T>(path: string, tenant: 'acme' | 'globex' = 'acme') => {
    const response = await api.call(path, { tenant });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as T;
  };
  const allEditsOf = async (batchId: string): Promise<EditObject[]> => {
    const all: EditObject[] = [];
    let cursor: string | null = null;
    do {
      const page: EditList<EditObject> = await get(
        `/v1/batches/${batchId}/edits?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      );
      all.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  };
  const editCount = async () => {
    let count = 0;
    let cursor: string | null = null;
    do {
      const page: EditList<EditObject> = await get(`/v1/edits?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      count += page.data.length;
      cursor = page.next_cursor;
    } while (cursor);
    return count;
  };

  it('accepts a batch: 202, Location, counts, every item an ordinary edit with batch_id and custom_id', async () => {
    const response = await post({
      items: [...items(2), { image_key: imageKey, instruction: 'named', custom_id: 'row-7', steps: 3 }],
      defaults: { steps: 5, output_format: 'webp' },
      metadata: { job: 'nightly' },
    });
    assert.equal(response.status, 202);
    const batch = (await response.json()) as BatchObject;
    assert.equal(response.headers.get('location'), `/v1/batches/${batch.id}`);
    assert.match(batch.id, /^batch_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(batch.status, 'queued');
    assert.deepEqual(batch.counts, { total: 3, queued: 3, running: 0, succeeded: 0, failed: 0, canceled: 0 });
    assert.deepEqual(batch.metadata, { job: 'nightly' });
    assert.deepEqual([batch.completed_at, batch.results_url, batch.results_expires_at], [null, null, null]);
    const edits = await allEditsOf(batch.id);
    assert.deepEqual(edits.map((e) => e.custom_id).sort(), ['0', '1', 'row-7']);
    for (const edit of edits) {
      assert.equal(edit.batch_id, batch.id);
      assert.equal(edit.input.priority, 'batch');
      assert.equal(edit.input.output_format, 'webp');
      assert.equal(edit.input.steps, edit.custom_id === 'row-7' ? 3 : 5);
      assert.deepEqual([edit.timings, edit.compute, edit.input.width], [null, null, null]);
      const single = await get<EditObject>(`/v1/edits/${edit.id}`);
      assert.equal(single.batch_id, batch.id);
    }
    const listed = await get<EditList<BatchObject>>('/v1/batches');
    assert.ok(listed.data.some((b) => b.id === batch.id));
  });

  it('validates the whole batch first and names the failing item; nothing is stored', async () => {
    const before = await editCount();
    const bad = items(20);
    bad[17] = { image_key: imageKey, instruction: '   ' };
    const blank = await errorOf(await post({ items: bad }));
    assert.deepEqual([blank.status, blank.param], [400, 'items[17].instruction']);
    const unknown = await errorOf(await post({ items: [...items(3), { ...items(1)[0], colour: 'red' }] }));
    assert.deepEqual([unknown.status, unknown.code, unknown.param], [400, 'unknown_field', 'items[3].colour']);
    const steps = await errorOf(await post({ items: [...items(4), { ...items(1)[0], steps: 101 }] }));
    assert.deepEqual([steps.code, steps.param], ['out_of_range', 'items[4].steps']);
    const twice = await errorOf(await post({ items: [...items(2), { ...items(1)[0], custom_id: '1' }] }));
    assert.deepEqual([twice.code, twice.param], ['invalid_request', 'items[2].custom_id']);
    const none = await errorOf(await post({ items: [] }));
    assert.deepEqual([none.code, none.param], ['out_of_range', 'items']);
    const both = await errorOf(await post({ items: [{ ...items(1)[0], image_url: 'http://127.0.0.2/x.png' }] }));
    assert.deepEqual([both.code, both.param], ['invalid_request', 'items[0].image_url']);
    const foreignKey = await uploadFor('globex');
    const foreign = await errorOf(await post({ items: [...items(5), { image_key: foreignKey, instruction: 'x' }] }));
    assert.deepEqual([foreign.status, foreign.param], [400, 'items[5].image_key']);
    const loopback = await errorOf(
      await post({ items: [...items(6), { image_url: 'http://127.0.0.1:1/a.png', instruction: 'x' }] }),
    );
    assert.deepEqual([loopback.status, loopback.code, loopback.param], [422, 'url_not_allowed', 'items[6].image_url']);
    const tooMany = await errorOf(await post({ items: items(1001) }));
    assert.deepEqual([tooMany.status, tooMany.code, tooMany.param], [400, 'out_of_range', 'items']);
    const hook = await errorOf(await post({ items: items(1), webhook_url: 'http://10.0.0.1/hook' }));
    assert.deepEqual([hook.status, hook.code, hook.param], [422, 'url_not_allowed', 'webhook_url']);
    const events = await errorOf(await post({ items: items(1), webhook_events: ['batch.exploded'] }));
    assert.deepEqual([events.status, events.param], [400, 'webhook_events[0]']);
    assert.equal(await editCount(), before, 'no item of a refused batch was stored');
  });

  it('takes bodies up to MAX_BATCH_BODY_BYTES on this route only', async () => {
    const long = 'x'.repeat(1900);
    const big = { items: items(200, { instruction: long }) };
    assert.ok(JSON.stringify(big).length > api.config.limits.maxJsonBodyBytes);
    await create(big);
    const edit = await errorOf(
      await api.call(
        '/v1/edits',
        jsonInit({ instruction: 'x', image_key: imageKey, metadata: { pad: 'y'.repeat(300_000) } }),
      ),
    );
    assert.deepEqual([edit.status, edit.code], [413, 'payload_too_large']);
    // Without a Content-Length (chunked), the limits hold while reading: each route its own.
    const chunked = (path: string, body: unknown) =>
      api.call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([JSON.stringify(body)]).stream(),
        duplex: 'half',
      } as RequestInit);
    assert.equal((await chunked('/v1/batches', big)).status, 202);
    const chunkedEdit = await errorOf(
      await chunked('/v1/edits', { instruction: 'x', image_key: imageKey, metadata: { pad: 'y'.repeat(300_000) } }),
    );
    assert.deepEqual([chunkedEdit.status, chunkedEdit.code], [413, 'payload_too_large']);
    const huge = await errorOf(await post({ items: items(1000, { instruction: 'z'.repeat(4500) }) }));
    assert.deepEqual([huge.status, huge.code], [413, 'payload_too_large']);
  });

  it("isolates tenants: another tenant's batch is 404 on every route and not listed", async () => {
    const batch = await create({ items: items(1) });
    for (const path of [`/v1/batches/${batch.id}`, `/v1/batches/${batch.id}/edits`]) {
      const error = await errorOf(await api.call(path, { tenant: 'globex' }));
      assert.deepEqual([error.status, error.code], [404, 'not_found']);
    }
    const cancel = await errorOf(
      await api.call(`/v1/batches/${batch.id}/cancel`, { method: 'POST', tenant: 'globex' }),
    );
    assert.deepEqual([cancel.status, cancel.code], [404, 'not_found']);
    const listed = await get<EditList<BatchObject>>('/v1/batches', 'globex');
    assert.ok(!listed.data.some((b) => b.id === batch.id));
    const unknown = await errorOf(await api.call('/v1/batches/batch_01HZZZZZZZZZZZZZZZZZZZZZZZ'));
    assert.equal(unknown.status, 404);
  });

  it('pages with keyset cursors, and refuses a cursor from another route', async () => {
    const batch = await create({ items: items(5) });
    const first = await get<EditList<EditObject>>(`/v1/batches/${batch.id}/edits?limit=2`);
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    const second = await get<EditList<EditObject>>(`/v1/batches/${batch.id}/edits?limit=2&cursor=${first.next_cursor}`);
    assert.equal(second.data.length, 2);
    assert.equal(new Set([...first.data, ...second.data].map((e) => e.id)).size, 4);
    const editsPage = await get<EditList<EditObject>>('/v1/edits?limit=1');
    const batchesPage = await get<EditList<BatchObject>>('/v1/batches?limit=1');
    assert.ok(editsPage.next_cursor && batchesPage.next_cursor);
    const cases = [
      `/v1/batches?cursor=${editsPage.next_cursor}`,
      `/v1/batches/${batch.id}/edits?cursor=${editsPage.next_cursor}`,
      `/v1/batches/${batch.id}/edits?cursor=${batchesPage.next_cursor}`,
      `/v1/edits?cursor=${first.next_cursor}`,
      `/v1/edits?cursor=${batchesPage.next_cursor}`,
      `/v1/batches?cursor=${first.next_cursor}`,
    ];
    for (const path of cases) {
      const error = await errorOf(await api.call(path));
      assert.deepEqual([error.status, error.code, error.param], [400, 'invalid_cursor', 'cursor'], path);
    }
    const filtered = await get<EditList<EditObject>>(`/v1/batches/${batch.id}/edits?status=succeeded`);
    assert.equal(filtered.data.length, 0);
  });

  it('replays an Idempotency-Key with the first batch, and conflicts on a changed batch', async () => {
    const key = `batch-${Date.now()}`;
    const first = await create({ items: items(3) }, { 'idempotency-key': key });
    const again = await create({ items: items(3) }, { 'idempotency-key': key });
    assert.equal(again.id, first.id);
    const changed = await errorOf(await post({ items: items(4) }, { 'idempotency-key': key }));
    assert.deepEqual([changed.status, changed.code], [409, 'idempotency_conflict']);
  });

  it('keeps exact counts under concurrent completions and finalizes once: results in input order', async () => {
    const batch = await create({ items: items(60), webhook_url: images.urlFor('/hooks/batch') });
    const ids = await batches.itemIds(batch.id);
    assert.equal(ids.length, 60);
    const now = () => new Date();
    // Every item started and finished concurrently, as 60 workers would; some twice (a stalled job's rerun).
    await Promise.all(ids.map((id, i) => api.edits.markRunning(id, 1, now()).then(() => i)));
    const running = await get<BatchObject>(`/v1/batches/${batch.id}`);
    assert.equal(running.status, 'running');
    assert.deepEqual(running.counts, { total: 60, queued: 0, running: 60, succeeded: 0, failed: 0, canceled: 0 });
    const finishers = ids.flatMap((id, i) => {
      const finish = () =>
        i % 3 === 0
          ? api.edits.markFailed(id, { code: 'invalid_image', message: 'bad' }, now())
          : api.edits.transition(id, {
              from: ['running'],
              set: {
                status: 'succeeded',
                completedAt: now().toISOString(),
                output: { key: `outputs/acme/${id}.png`, width: 10, height: 10, format: 'png', seed: 1 },
              },
            });
      return [finish(), finish()];
    });
    await Promise.all(finishers);
    const done = await batches.get(batch.id);
    assert.deepEqual(done?.counts, { total: 60, queued: 0, running: 0, succeeded: 40, failed: 20, canceled: 0 });
    assert.deepEqual(await batches.toFinalize(100), [batch.id], 'the last transition scheduled the finalization');
    // Five processes finalizing at once (workers' 1 s pass, a reconciler): one wins, one batch.completed is queued
    // (every finalizer queues it under the same job id, which BullMQ keeps once).
    const queued: DeliverWebhookPayload[] = [];
    const queue = { enqueueWebhook: async (payload: DeliverWebhookPayload) => void queued.push(payload) };
    const finalizers = Array.from(
      { length: 5 },
      () => new BatchFinalizer(batches, api.edits, api.objectStore, queue, { urlTtlS: 600 }),
    );
    const won = await Promise.all(finalizers.map((f) => f.finalize(batch.id)));
    assert.equal(won.filter(Boolean).length, 1);
    assert.ok(queued.length >= 1 && queued.every((p) => p.messageId === batchCompletedMessageId(batch.id)));
    assert.ok(queued.every((p) => p.type === 'batch.completed' && p.url === images.urlFor('/hooks/batch')));
    const final = await get<BatchObject>(`/v1/batches/${batch.id}`);
    assert.equal(final.status, 'completed');
    assert.deepEqual(JSON.parse(queued[0].body).data.counts, final.counts);
    assert.ok(final.results_url && final.completed_at);
    const lines = (await (await fetch(final.results_url)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.edit_id),
      ids,
      'input order',
    );
    assert.deepEqual(
      lines.map((l) => l.custom_id),
      ids.map((_, i) => String(i)),
    );
    assert.equal(lines.filter((l) => l.status === 'failed' && l.error.code === 'invalid_image').length, 20);
    assert.equal(lines.filter((l) => l.status === 'succeeded' && l.output.width === 10).length, 40);
    assert.deepEqual(await batches.toFinalize(100), []);
    const again = await errorOf(await api.call(`/v1/batches/${batch.id}/cancel`, { method: 'POST' }));
    assert.deepEqual([again.status, again.code], [409, 'not_cancelable']);
  });

  it('a finalizer that died after marking the batch completed leaves it for the next one: one batch.completed', async () => {
    const batch = await create({ items: items(2), webhook_url: images.urlFor('/hooks/crash') });
    const ids = await batches.itemIds(batch.id);
    for (const id of ids) await api.edits.markCanceled(id, new Date());
    assert.deepEqual(await batches.toFinalize(100), [batch.id]);
    // The dead finalizer got as far as the compare-and-set (results written, no event queued, still on the set).
    assert.equal(
      await batches.markFinalized(batch.id, 'completed', new Date(), `batches/acme/${batch.id}.jsonl`),
      true,
    );
    const queued: DeliverWebhookPayload[] = [];
    const queue = { enqueueWebhook: async (payload: DeliverWebhookPayload) => void queued.push(payload) };
    const next = new BatchFinalizer(batches, api.edits, api.objectStore, queue, { urlTtlS: 600 });
    assert.equal(await next.finalizePending(), 0, 'nobody finalizes it twice');
    assert.deepEqual(
      queued.map((p) => [p.type, p.messageId]),
      [['batch.completed', batchCompletedMessageId(batch.id)]],
    );
    assert.deepEqual(await batches.toFinalize(100), []);
    assert.equal(JSON.parse(queued[0].body).data.status, 'completed');
  });

  it('cancels a queued batch at once: every item canceled, the batch canceled with its results', async () => {
    const batch = await create({ items: items(4) });
    const response = await api.call(`/v1/batches/${batch.id}/cancel`, { method: 'POST' });
    assert.equal(response.status, 200);
    const canceled = (await response.json()) as BatchObject;
    assert.equal(canceled.status, 'canceled');
    assert.deepEqual(canceled.counts, { total: 4, queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 4 });
    const edits = await allEditsOf(batch.id);
    assert.ok(edits.every((e) => e.status === 'canceled'));
    const lines = (await (await fetch(canceled.results_url!)).text()).trim().split('\n');
    assert.equal(lines.length, 4);
  });

  it('counts usage per tenant and day at the terminal transition, and validates the range', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const usageNow = async () => (await get<{ data: UsageDay[] }>(`/v1/usage?from=${today}&to=${today}`)).data[0];
    const before = await usageNow();
    const batch = await create({ items: items(3) });
    const ids = await batches.itemIds(batch.id);
    const compute = {
      worker_seconds: 1.25,
      execution_provider: 'cpu',
      model: { version: 'v1.1', sha256: 'a'.repeat(64) },
    };
    for (const id of ids) await api.edits.markRunning(id, 1, new Date());
    await api.edits.transition(ids[0], {
      from: ['running'],
      set: {
        status: 'succeeded',
        completedAt: new Date().toISOString(),
        compute,
        output: { key: 'k', width: 2000, height: 1000, format: 'png', seed: 1 },
      },
    });
    await api.edits.transition(ids[1], {
      from: ['running'],
      set: { status: 'failed', completedAt: new Date().toISOString(), compute, error: { code: 'x', message: 'y' } },
    });
    await api.edits.markCanceled(ids[2], new Date());
    await api.edits.markCanceled(ids[2], new Date()); // a second terminal transition is refused and counts nothing
    const after = await usageNow();
    assert.deepEqual(after.edits, {
      succeeded: before.edits.succeeded + 1,
      failed: before.edits.failed + 1,
      canceled: before.edits.canceled + 1,
    });
    assert.ok(Math.abs(after.worker_seconds - before.worker_seconds - 2.5) < 1e-6);
    assert.ok(Math.abs(after.output_megapixels - before.output_megapixels - 2) < 1e-6);
    const edit = await get<EditObject>(`/v1/edits/${ids[0]}`);
    assert.deepEqual(edit.compute, compute);
    const other = await get<{ data: UsageDay[] }>(`/v1/usage?from=${today}&to=${today}`, 'globex');
    assert.equal(other.data[0].worker_seconds, 0, 'another tenant sees none of it');
    const week = await get<{ data: UsageDay[] }>('/v1/usage?from=2026-01-01&to=2026-01-07');
    assert.deepEqual(
      week.data.map((d) => d.date),
      ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-06', '2026-01-07'],
    );
    const bad: Array<[string, number, string, string | null]> = [
      ['/v1/usage?from=2026-02-30&to=2026-03-01', 400, 'invalid_request', 'from'],
      ['/v1/usage?from=2026-03-02&to=2026-03-01', 400, 'invalid_request', 'from'],
      ['/v1/usage?from=2024-01-01&to=2026-01-01', 400, 'out_of_range', 'to'],
      ['/v1/usage?from=2026-01-01', 400, 'invalid_request', 'to'],
      ['/v1/usage?from=2026-01-01&to=2026-01-02&tenant=globex', 400, 'unknown_field', 'tenant'],
    ];
    for (const [path, status, code, param] of bad) {
      const error = await errorOf(await api.call(path));
      assert.deepEqual([error.status, error.code, error.param], [status, code, param], path);
    }
  });

  it('documents every batch and usage route, field and error code in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${api.baseUrl}/docs/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { description: string }>; requestBody?: unknown }>
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    for (const [path, method] of [
      ['/v1/batches', 'post'],
      ['/v1/batches', 'get'],
      ['/v1/batches/{id}', 'get'],
      ['/v1/batches/{id}/edits', 'get'],
      ['/v1/batches/{id}/cancel', 'post'],
      ['/v1/usage', 'get'],
    ] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
    }
    assert.ok(doc.paths['/v1/batches'].post.requestBody);
    const createErrors = JSON.stringify(doc.paths['/v1/batches'].post.responses);
    for (const code of [
      'unknown_field',
      'out_of_range',
      'payload_too_large',
      'url_not_allowed',
      'idempotency_conflict',
    ]) {
      assert.ok(createErrors.includes(code), code);
    }
    assert.ok(JSON.stringify(doc.paths['/v1/batches'].get.responses).includes('invalid_cursor'));
    assert.ok(JSON.stringify(doc.paths['/v1/usage'].get.responses).includes('out_of_range'));
    const schemas = doc.components.schemas;
    assert.deepEqual(Object.keys(schemas.Batch.properties ?? {}).sort(), [
      'completed_at', 'counts', 'created_at', 'id', 'metadata', 'results_expires_at', 'results_url', 'status',
    ]); // prettier-ignore
    for (const field of ['batch_id', 'custom_id', 'timings', 'compute']) {
      assert.ok(schemas.Edit.properties?.[field], `Edit.${field}`);
    }
    assert.ok(schemas.Usage && schemas.CreateBatchRequest && schemas.BatchList);
    // The documented edit object has exactly the fields the API returns.
    const batch = await create({ items: items(1) });
    const [edit] = await allEditsOf(batch.id);
    assert.deepEqual(Object.keys(edit).sort(), Object.keys(schemas.Edit.properties ?? {}).sort());
  });
});
