import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject, WebhookEvent } from '@step1x/contracts';
import { RedisKeys, type DeliveryLogEntry } from '@step1x/edit-store';
import type { ReceivedRequest } from '../support/webhook-receiver';
import {
  downloadImage,
  isTerminal,
  jsonInit,
  multipartOf,
  pngOf,
  rotatedJpeg,
  startServiceStack,
  verifiedEvent,
  waitForEdit,
  type ServiceStack,
} from './service-harness';

/**
 * The edit lifecycle through real processes: the API (ROLE=api) and one worker (ROLE=worker, concurrency 1, the
 * real tiny pipeline) sharing redis-server and s3rver, webhooks delivered to a receiver on 127.0.0.2.
 */
describe('worker: edits end to end (e2e)', () => {
  let stack: ServiceStack;
  let secret: string;
  let png: Buffer;
  const created = { interactive: 0, batch: 0 };
  /** Per `<path> <event type>`: how many deliveries to answer 500 before answering 204. */
  const failFirst = new Map<string, number>();

  before(async () => {
    stack = await startServiceStack();
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    png = await pngOf(80, 60);
    stack.receiver.setResponder((request) => {
      if (request.path === '/images/in.png')
        return { status: 200, headers: { 'content-type': 'image/png' }, body: png };
      const key = `${request.path} ${(JSON.parse(request.text) as { type: string }).type}`;
      const left = failFirst.get(key) ?? 0;
      if (left > 0) {
        failFirst.set(key, left - 1);
        return { status: 500, body: 'try again' };
      }
      return { status: 204 };
    });
    secret = ((await (await stack.call('/v1/webhooks/secret')).json()) as { secret: string }).secret;
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = async (
    fields: Record<string, string>,
    image: { bytes: Buffer; type: string },
    headers: Record<string, string> = {},
  ) => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      headers,
      body: multipartOf({ instruction: 'make it blue', ...fields }, image),
    });
    const edit = (await response.json()) as EditObject;
    if (response.status === 202 || response.status === 200) created[edit.input.priority]++;
    return { response, edit };
  };
  const hooksAt = (path: string) => (requests: readonly ReceivedRequest[]) => requests.filter((r) => r.path === path);
  const completedAt = (path: string) => (requests: readonly ReceivedRequest[]) =>
    hooksAt(path)(requests).some((r) => r.text.includes('"edit.completed"'));

  it('multipart: queued → running → succeeded on the real pipeline; the output is the oriented input size', async () => {
    const jpeg = await rotatedJpeg();
    const hook = '/hooks/multipart';
    failFirst.set(`${hook} edit.started`, 1);
    const { response, edit } = await submit(
      { steps: '6', webhook_url: stack.receiver.urlFor(hook), output_format: 'webp', seed: '1234' },
      { bytes: jpeg, type: 'image/jpeg' },
    );
    assert.equal(response.status, 202);
    assert.equal(edit.status, 'queued');
    assert.deepEqual([edit.input.width, edit.input.height], [64, 96], 'EXIF orientation applied');
    const { edit: done, statuses } = await waitForEdit(stack, edit.id, isTerminal);
    assert.deepEqual(
      statuses.filter((s) => s !== 'queued'),
      ['running', 'succeeded'],
    );
    assert.deepEqual(done.progress, { step: 6, total: 6 });
    assert.equal(done.attempts, 1);
    assert.equal(done.input.truncated, false);
    assert.ok(done.started_at && done.completed_at && done.completed_at >= done.started_at);
    assert.equal(done.output?.format, 'webp');
    assert.equal(done.output?.seed, 1234);
    assert.deepEqual([done.output?.width, done.output?.height], [64, 96]);
    const image = await downloadImage(done.output!.url);
    assert.deepEqual(image, { contentType: 'image/webp', width: 64, height: 96, format: 'webp' });
    const key = `outputs/acme/${edit.id}.webp`;
    assert.ok(await stack.objectStore.exists(key), `deterministic output key ${key}`);
    const inputInfo = await stack.objectStore.head(`inputs/acme/${edit.id}`);
    assert.ok(inputInfo, 'the input image is in S3');
    const record = await stack.redisClient.hgetall(new RedisKeys(stack.keyPrefix).edit(edit.id));
    assert.ok(!Object.values(record).some((value) => value.length > 4096), 'no image bytes in Redis');
  });

  it('sends signed edit.started, edit.progress (≤ 1/s) and edit.completed; a retry after a 500 keeps the webhook-id', async () => {
    const hook = '/hooks/multipart';
    const requests = hooksAt(hook)(await stack.receiver.waitFor(completedAt(hook), 15_000));
    await new Promise((resolve) => setTimeout(resolve, 800)); // a retry of an earlier event may still be due
    const all = hooksAt(hook)(stack.receiver.requests);
    const events = all.map((request) => ({
      id: String(request.headers['webhook-id']),
      event: verifiedEvent(secret, request),
    }));
    assert.ok(requests.length >= 3);
    const ofType = (type: string) => events.filter((e) => e.event.type === type);
    const completed = ofType('edit.completed');
    assert.equal(completed.length, 1);
    assert.equal(completed[0].event.data.status, 'succeeded');
    assert.match(completed[0].event.data.output!.url, /^http:\/\/127\.0\.0\.1:\d+\//);
    const started = ofType('edit.started');
    assert.equal(started.length, 2, 'the first answer was 500, so edit.started came twice');
    assert.equal(started[0].id, started[1].id, 'same webhook-id on the retry');
    assert.match(started[0].id, /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(started[0].event.data.status, 'running');
    const progress = ofType('edit.progress').map((e) => e.event);
    assert.ok(progress.length >= 1, 'at least one edit.progress');
    assert.ok(progress.every((e) => e.data.status === 'running' && e.data.progress.step >= 1));
    for (let i = 1; i < progress.length; i++) {
      const gap = Date.parse(progress[i].timestamp) - Date.parse(progress[i - 1].timestamp);
      assert.ok(gap >= 1000, `edit.progress events ${gap} ms apart`);
    }
    assert.equal(
      new Set(events.filter((e) => e.event.type !== 'edit.started').map((e) => e.id)).size,
      events.length - 2,
    );
    const editId = completed[0].event.data.id;
    const log = (await stack.redisClient.lrange(new RedisKeys(stack.keyPrefix).editDeliveries(editId), 0, -1)).map(
      (entry) => JSON.parse(entry) as DeliveryLogEntry,
    );
    const startedAttempts = log.filter((entry) => entry.message_id === started[0].id);
    assert.deepEqual(
      startedAttempts.map((a) => [a.attempt, a.status]),
      [
        [1, 500],
        [2, 204],
      ],
    );
    assert.ok(startedAttempts[0].next_retry_at !== null);
    assert.equal(log.length, events.length, 'every attempt recorded');
  });

  it('image_url and presigned-upload submits succeed; Prefer: wait=30 answers 200 with the finished edit', async () => {
    const fromUrl = await stack.call(
      '/v1/edits',
      jsonInit(
        { instruction: 'add a hat', image_url: stack.receiver.urlFor('/images/in.png'), steps: 2 },
        { prefer: 'wait=30' },
      ),
    );
    assert.equal(fromUrl.status, 200);
    const urlEdit = (await fromUrl.json()) as EditObject;
    created.interactive++;
    assert.equal(urlEdit.status, 'succeeded');
    assert.deepEqual(await downloadImage(urlEdit.output!.url), {
      contentType: 'image/png',
      width: 80,
      height: 60,
      format: 'png',
    });

    const upload = (await (
      await stack.call('/v1/uploads', jsonInit({ content_type: 'image/png', size: png.length }))
    ).json()) as {
      image_key: string;
      upload_url: string;
      headers: Record<string, string>;
    };
    const put = await fetch(upload.upload_url, { method: 'PUT', headers: upload.headers, body: png });
    assert.equal(put.status, 200);
    const fromKey = await stack.call(
      '/v1/edits',
      jsonInit(
        { instruction: 'add a hat', image_key: upload.image_key, steps: 2, output_format: 'jpeg', priority: 'batch' },
        { prefer: 'wait=30' },
      ),
    );
    assert.equal(fromKey.status, 200);
    const keyEdit = (await fromKey.json()) as EditObject;
    created.batch++;
    assert.equal(keyEdit.status, 'succeeded');
    assert.deepEqual(await downloadImage(keyEdit.output!.url), {
      contentType: 'image/jpeg',
      width: 80,
      height: 60,
      format: 'jpeg',
    });
  });

  it('Prefer: wait=1 on a long edit answers 202 unfinished; a cancel stops it running at the next step', async () => {
    const hook = '/hooks/cancel';
    const { response, edit } = await submit(
      { steps: '100', webhook_url: stack.receiver.urlFor(hook), webhook_events: 'completed' },
      { bytes: png, type: 'image/png' },
      { prefer: 'wait=1' },
    );
    assert.equal(response.status, 202);
    assert.ok(['queued', 'running'].includes(edit.status));
    await waitForEdit(stack, edit.id, (e) => e.status === 'running' && e.progress.step >= 1, 30_000);
    const cancel = await stack.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 200);
    const requested = (await cancel.json()) as EditObject;
    assert.equal(requested.cancel_requested, true);
    const { edit: canceled } = await waitForEdit(stack, edit.id, isTerminal, 15_000);
    assert.equal(canceled.status, 'canceled');
    assert.ok(canceled.progress.step < 100, `stopped at step ${canceled.progress.step}`);
    assert.equal(canceled.output, null);
    const [hookRequest] = hooksAt(hook)(await stack.receiver.waitFor((r) => hooksAt(hook)(r).length >= 1, 10_000));
    const event = verifiedEvent(secret, hookRequest);
    assert.equal(event.type, 'edit.completed');
    assert.equal(event.data.status, 'canceled');
    const again = await stack.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409);
  });

  it('takes interactive edits before batch ones (one worker, concurrency 1)', async () => {
    const blocker = (await submit({ steps: '4' }, { bytes: png, type: 'image/png' })).edit;
    await waitForEdit(stack, blocker.id, (e) => e.status === 'running');
    const batch1 = (await submit({ steps: '1', priority: 'batch' }, { bytes: png, type: 'image/png' })).edit;
    const batch2 = (await submit({ steps: '1', priority: 'batch' }, { bytes: png, type: 'image/png' })).edit;
    const urgent = (await submit({ steps: '1' }, { bytes: png, type: 'image/png' })).edit;
    assert.equal(batch2.queue_position, 2);
    assert.equal(urgent.queue_position, 1);
    const finished: EditObject[] = [];
    for (const edit of [blocker, urgent, batch1, batch2])
      finished.push((await waitForEdit(stack, edit.id, isTerminal)).edit);
    assert.ok(finished.every((e) => e.status === 'succeeded'));
    const [, u, b1, b2] = finished;
    assert.ok(u.started_at! < b1.started_at!, 'interactive before the earlier batch edits');
    assert.ok(b1.started_at! < b2.started_at!, 'batch in arrival order');
  });

  it('fails an edit whose stored input is not an image, once, with the error code (no retry)', async () => {
    const blocker = (await submit({ steps: '3' }, { bytes: png, type: 'image/png' })).edit;
    await waitForEdit(stack, blocker.id, (e) => e.status === 'running');
    const hook = '/hooks/bad-input';
    const bad = (
      await submit({ steps: '2', webhook_url: stack.receiver.urlFor(hook) }, { bytes: png, type: 'image/png' })
    ).edit;
    assert.equal(bad.status, 'queued');
    // Only the worker can meet this: the API decoded the image before accepting it.
    await stack.objectStore.put(`inputs/acme/${bad.id}`, Buffer.from('not an image any more'), {
      contentType: 'image/png',
    });
    const { edit: failed } = await waitForEdit(stack, bad.id, isTerminal);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'invalid_image');
    assert.equal(failed.attempts, 1);
    const requests = hooksAt(hook)(await stack.receiver.waitFor(completedAt(hook), 10_000));
    const events = requests.map((r) => verifiedEvent(secret, r) as WebhookEvent);
    assert.equal(events.at(-1)?.data.status, 'failed');
    assert.equal(events.at(-1)?.data.error?.code, 'invalid_image');
    await waitForEdit(stack, blocker.id, isTerminal);
  });

  it('counts what happened at /metrics', async () => {
    const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    const value = (series: string) =>
      Number(text.match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm'))?.[1]);
    assert.equal(value('step1x_edits_created_total{priority="interactive"}'), created.interactive);
    assert.equal(value('step1x_edits_created_total{priority="batch"}'), created.batch);
    assert.equal(value('step1x_edits_canceled_total{state="running"}'), 1);
    assert.equal(value('step1x_queue_depth{lane="interactive"}'), 0);
    assert.equal(value('step1x_queue_depth{lane="batch"}'), 0);
  });

  it('keeps serving after all of it', async () => {
    assert.equal((await fetch(`${stack.apiUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${stack.apiUrl}/readyz`)).status, 200);
    const { response, edit } = await submit({ steps: '1' }, { bytes: png, type: 'image/png' }, { prefer: 'wait=30' });
    assert.equal(response.status, 200);
    assert.equal(edit.status, 'succeeded');
    const list = (await (await stack.call('/v1/edits?status=queued,running')).json()) as { data: EditObject[] };
    assert.deepEqual(list.data, []);
  });
});
