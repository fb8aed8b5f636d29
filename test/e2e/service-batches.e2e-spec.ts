import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchObject, EditList, EditObject, UploadTicket, UsageDay } from '@step1x/contracts';
import { jsonInit, pngOf, startServiceStack, verifiedEvent, type ServiceStack } from './service-harness';

/**
 * `BATCH_E2E_ITEMS` sets the batch size: the CI default keeps the run short on a shared 2-core machine; the issue's
 * 300-item run is `BATCH_E2E_ITEMS=300 node scripts/run-tests.mjs service-batches` (same assertions, no skips).
 */
const ITEMS = Number(process.env.BATCH_E2E_ITEMS ?? '12');

/**
 * A batch through the whole service as real processes (redis-server, s3rver, the API, workers on the tiny models, an
 * image host and webhook receiver on 127.0.0.2): good `image_key` items, an `image_url` that works, one that 404s,
 * an item canceled while queued, and a worker SIGKILLed mid-batch. The batch must end `completed` exactly once
 * with exact counts, the results file in input order, one `batch.completed`, receipts on every edit, and usage
 * that adds up.
 */
describe(`service: a ${ITEMS}-item batch survives a worker SIGKILL (e2e)`, () => {
  let stack: ServiceStack;
  let png: Buffer;

  before(async () => {
    stack = await startServiceStack({ WORKER_CONCURRENCY: '1', QUEUE_MAX_DEPTH: '100000' });
    png = await pngOf(64, 48);
    stack.receiver.setResponder((request) => {
      if (request.path === '/images/good.png')
        return { status: 200, headers: { 'content-type': 'image/png' }, body: png };
      if (request.path.startsWith('/images/')) return { status: 404, body: 'no such image' };
      return { status: 200, body: 'ok' };
    });
  });
  after(async () => {
    await stack?.stop();
  });

  const get = async <T>(path: string): Promise<T> => {
    const response = await stack.call(path);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as T;
  };
  const waitForBatch = async (id: string, done: (b: BatchObject) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = await get<BatchObject>(`/v1/batches/${id}`);
      if (done(batch)) return batch;
      if (Date.now() > deadline) throw new Error(`batch not there in ${timeoutMs} ms: ${JSON.stringify(batch)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it('ends completed once, with exact counts, results in input order, receipts and usage', async () => {
    const ticketResponse = await stack.call('/v1/uploads', jsonInit({ content_type: 'image/png', size: png.length }));
    const ticket = (await ticketResponse.json()) as UploadTicket;
    assert.equal((await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: png })).status, 200);
    const items = Array.from({ length: ITEMS }, (_, i) => ({
      custom_id: `row-${i}`,
      image_key: ticket.image_key,
      instruction: `make it ${i % 2 ? 'green' : 'blue'}`,
      seed: i,
    })) as Array<Record<string, unknown>>;
    items[1] = { custom_id: 'row-1', image_url: stack.receiver.urlFor('/images/good.png'), instruction: 'sharpen' };
    items[2] = { custom_id: 'row-2', image_url: stack.receiver.urlFor('/images/missing.png'), instruction: 'sharpen' };
    const hook = '/hooks/batch';
    const created = await stack.call(
      '/v1/batches',
      jsonInit({
        items,
        defaults: { steps: 2 },
        webhook_url: stack.receiver.urlFor(hook),
        webhook_events: ['batch.progress'],
      }),
    );
    assert.equal(created.status, 202, await created.clone().text());
    const batch = (await created.json()) as BatchObject;

    // The last item is canceled while queued (no worker runs yet), through the ordinary edit route.
    const edits = await get<EditList<EditObject>>(`/v1/batches/${batch.id}/edits?limit=100`);
    const last = edits.data.find((e) => e.custom_id === `row-${ITEMS - 1}`)!;
    assert.equal((await stack.call(`/v1/edits/${last.id}/cancel`, { method: 'POST' })).status, 200);

    const doomed = await stack.startWorker();
    await waitForBatch(batch.id, (b) => b.counts.succeeded >= 3 && b.counts.running === 1, 120_000);
    doomed.kill('SIGKILL');
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    const midway = await get<BatchObject>(`/v1/batches/${batch.id}`);
    assert.equal(midway.status, 'running');

    const started = Date.now();
    await stack.startWorker();
    const done = await waitForBatch(batch.id, (b) => b.status !== 'running', 120_000 + ITEMS * 5_000);
    const elapsedS = (Date.now() - started) / 1000;
    process.stdout.write(`# ${ITEMS} items finished ${elapsedS.toFixed(1)} s after the SIGKILL\n`);

    assert.equal(done.status, 'completed');
    assert.deepEqual(done.counts, {
      total: ITEMS,
      queued: 0,
      running: 0,
      succeeded: ITEMS - 2,
      failed: 1,
      canceled: 1,
    });
    assert.ok(done.results_url && done.completed_at);
    const lines = (await (await fetch(done.results_url)).text())
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { custom_id: string; edit_id: string; status: string; error: { code: string } | null },
      );
    assert.deepEqual(
      lines.map((l) => l.custom_id),
      items.map((item) => item.custom_id),
      'results in input order',
    );
    assert.equal(lines[1].status, 'succeeded', 'the image_url item was fetched by the worker');
    assert.deepEqual([lines[2].status, lines[2].error?.code], ['failed', 'url_fetch_failed']);
    assert.equal(lines[ITEMS - 1].status, 'canceled');

    // Exactly one batch.completed, signed, with the final batch; no per-item events (none were asked for).
    const secret = (await get<{ secret: string }>('/v1/webhooks/secret')).secret;
    await stack.receiver.waitFor((r) => r.some((q) => q.path === hook && q.text.includes('"batch.completed"')), 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // room for a duplicate to show up
    const deliveries = stack.receiver.requests.filter((r) => r.path === hook);
    // Only recent deliveries can be verified now (standardwebhooks refuses timestamps over 5 min old, and a
    // 300-item run lasts longer): batch.completed is checked with the library, earlier progress events are parsed.
    const events = deliveries.map((r) => ({
      at: r.receivedAt.getTime(),
      event: r.text.includes('"batch.completed"')
        ? verifiedEvent(secret, r)
        : (JSON.parse(r.text) as ReturnType<typeof verifiedEvent>),
    }));
    const completed = events.filter((e) => e.event.type === 'batch.completed');
    assert.equal(completed.length, 1, 'batch.completed once');
    const data = completed[0].event.data as unknown as BatchObject;
    assert.deepEqual([data.id, data.status, data.counts], [batch.id, 'completed', done.counts]);
    assert.ok(events.every((e) => e.event.type === 'batch.completed' || e.event.type === 'batch.progress'));
    const progress = events.filter((e) => e.event.type === 'batch.progress').map((e) => e.at);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] - progress[i - 1] >= 4500, 'at most 1 per 5 s');
    // The batch's own deliveries are logged under the batch, each attempt with its webhook id and status code.
    const batchDeliveries = await get<{ data: { webhook_id: string; type: string; status_code: number | null }[] }>(
      `/v1/batches/${batch.id}/deliveries`,
    );
    const completedDeliveries = batchDeliveries.data.filter((d) => d.type === 'batch.completed');
    assert.ok(
      completedDeliveries.some((d) => d.status_code === 204 || d.status_code === 200),
      'batch.completed logged',
    );
    assert.ok(batchDeliveries.data.every((d) => d.type === 'batch.completed' || d.type === 'batch.progress'));

    // Receipts on every succeeded edit, and usage that adds up to them.
    const all = await Promise.all(lines.map((l) => get<EditObject>(`/v1/edits/${l.edit_id}`)));
    let workerSeconds = 0;
    let megapixels = 0;
    for (const edit of all) {
      workerSeconds += edit.compute?.worker_seconds ?? 0;
      if (edit.output) megapixels += (edit.output.width * edit.output.height) / 1e6;
      if (edit.status !== 'succeeded') continue;
      assert.deepEqual([edit.input.width, edit.input.height], [64, 48], 'size learnt by the worker');
      const t = edit.timings!;
      assert.ok(t.denoise_ms > 0 && t.mllm_ms > 0 && t.vae_ms > 0 && t.total_ms >= t.queued_ms, JSON.stringify(t));
      assert.ok(t.total_ms >= t.preprocess_ms + t.mllm_ms + t.denoise_ms + t.vae_ms + t.upload_ms);
      assert.equal(edit.compute?.execution_provider, 'cpu');
      assert.match(edit.compute?.model.sha256 ?? '', /^[0-9a-f]{64}$/);
      assert.ok((edit.compute?.worker_seconds ?? 0) > 0);
    }
    const today = new Date().toISOString().slice(0, 10);
    const [usage] = (await get<{ data: UsageDay[] }>(`/v1/usage?from=${today}&to=${today}`)).data;
    assert.deepEqual(usage.edits, { succeeded: ITEMS - 2, failed: 1, canceled: 1 });
    assert.ok(Math.abs(usage.worker_seconds - workerSeconds) < 0.01, `${usage.worker_seconds} vs ${workerSeconds}`);
    assert.ok(Math.abs(usage.output_megapixels - megapixels) < 1e-6);
  });
});
