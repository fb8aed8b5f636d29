import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { EditObject } from '@step1x/contracts';
import { RedisKeys } from '@step1x/edit-store';
import { RedisCancelBus } from '@step1x/job-queue';
import type { WebhookReceiver } from '../support/webhook-receiver';
import { jsonInit, multipartOf, pngOf, startApiWithImageHost, type ApiHarness } from './api-harness';

const EDIT_KEYS = [
  'id', 'status', 'created_at', 'started_at', 'completed_at', 'queue_position', 'eta_s', 'progress', 'attempts',
  'cancel_requested', 'input', 'output', 'error', 'metadata', 'webhook', 'batch_id', 'custom_id', 'timings', 'compute',
]; // prettier-ignore

/** The edit lifecycle up to what the API alone does (no worker yet: the tests stand in for it through Redis). */
describe('API edits (e2e)', () => {
  let api: ApiHarness;
  let images: WebhookReceiver;
  let png: Buffer;
  let stop: () => Promise<void>;

  before(async () => {
    ({ api, images, png, stop } = await startApiWithImageHost(96, 64));
    images.setResponder(() => ({ status: 200, headers: { 'content-type': 'image/png' }, body: png }));
  });
  after(() => stop());

  const submit = async (
    fields: Record<string, string> = {},
    headers: Record<string, string> = {},
    tenant: 'acme' | 'globex' = 'acme',
  ) => {
    const response = await api.call('/v1/edits', {
      method: 'POST',
      headers,
      tenant,
      body: multipartOf({ instruction: 'put a red hat on it', ...fields }, { bytes: png }),
    });
    return { response, edit: (await response.json()) as EditObject };
  };

  it('accepts a multipart edit: 202, Location, every field present, defaults applied', async () => {
    const { response, edit } = await submit({ metadata: '{"order":42}' });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('location'), `/v1/edits/${edit.id}`);
    assert.deepEqual(Object.keys(edit).sort(), [...EDIT_KEYS].sort());
    assert.equal(edit.status, 'queued');
    assert.ok(edit.queue_position !== null && edit.queue_position >= 1);
    assert.equal(edit.started_at, null);
    assert.equal(edit.output, null);
    assert.equal(edit.error, null);
    assert.deepEqual(edit.progress, { step: 0, total: 28 });
    assert.deepEqual(edit.metadata, { order: 42 });
    const { seed, ...input } = edit.input;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1);
    assert.deepEqual(input, {
      instruction: 'put a red hat on it', steps: 28, guidance: 6, size_level: 512, output_format: 'png',
      priority: 'interactive', width: 96, height: 64, truncated: null, previews: false,
    }); // prettier-ignore
    const fetched = (await (await api.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.deepEqual(fetched, edit);
    // The input image went to S3, not Redis.
    const stored = await api.objectStore.head(`inputs/acme/${edit.id}`);
    assert.equal(stored?.size, png.length);
  });

  it('accepts a JSON edit with image_url, fetched through the egress guard, and echoes the seed', async () => {
    const response = await api.call(
      '/v1/edits',
      jsonInit({
        instruction: 'make it night',
        image_url: images.urlFor('/cat.png'),
        seed: 1234,
        priority: 'batch',
        steps: 8,
      }),
    );
    assert.equal(response.status, 202);
    const edit = (await response.json()) as EditObject;
    assert.equal(edit.input.seed, 1234);
    assert.equal(edit.input.priority, 'batch');
    assert.equal(edit.input.width, 96);
    assert.ok(images.requests.some((r) => r.path === '/cat.png'));
  });

  it('counts queue positions within each lane', async () => {
    const a = (await submit({ priority: 'batch' })).edit;
    const b = (await submit({ priority: 'batch' })).edit;
    assert.equal(b.queue_position, (a.queue_position ?? 0) + 1);
    const interactive = (await submit()).edit;
    const again = (await (await api.call(`/v1/edits/${b.id}`)).json()) as EditObject;
    assert.equal(again.queue_position, b.queue_position, 'an interactive edit does not move the batch lane');
    assert.ok((interactive.queue_position ?? 0) >= 1);
  });

  it("isolates tenants: another tenant's edit is not found, not cancelable and not listed", async () => {
    const { edit } = await submit();
    assert.equal((await api.call(`/v1/edits/${edit.id}`, { tenant: 'globex' })).status, 404);
    assert.equal((await api.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST', tenant: 'globex' })).status, 404);
    const list = (await (await api.call('/v1/edits?limit=100', { tenant: 'globex' })).json()) as { data: EditObject[] };
    assert.ok(!list.data.some((e) => e.id === edit.id));
    assert.equal(((await (await api.call(`/v1/edits/${edit.id}`)).json()) as EditObject).status, 'queued');
  });

  it('replays an idempotent create with the first edit and status, then conflicts on a changed request', async () => {
    const key = `idem-${randomUUID()}`;
    const first = await submit({ steps: '12' }, { 'idempotency-key': key });
    assert.equal(first.response.status, 202);
    // Same parsed request, spelled differently: defaults written out, fields in another order.
    const replay = await submit({ guidance: '6', steps: '12', size_level: '512' }, { 'idempotency-key': key });
    assert.equal(replay.response.status, 202);
    assert.equal(replay.edit.id, first.edit.id);
    // Per tenant: the same key elsewhere is a new edit.
    const other = await submit({ steps: '12' }, { 'idempotency-key': key }, 'globex');
    assert.notEqual(other.edit.id, first.edit.id);
    const changed = await submit({ steps: '13' }, { 'idempotency-key': key });
    assert.equal(changed.response.status, 409);
  });

  // CONTRACT.md: the request behind a key is the parsed fields with defaults plus the image bytes' sha256, not the
  // body form. So JSON and multipart carrying the same fields are one request, and any field that differs,
  // whichever form carries it, is a conflict.
  it('treats the same fields as JSON and as multipart as one request, and a changed field in either as a conflict', async () => {
    const key = `idem-forms-${randomUUID()}`;
    const imageUrl = images.urlFor('/cat.png');
    const metadata = { order: 7, tags: ['a', 'b'] };
    const json = await api.call(
      '/v1/edits',
      jsonInit(
        { instruction: 'put a red hat on it', image_url: imageUrl, steps: 12, guidance: 6.5, metadata },
        { 'idempotency-key': key },
      ),
    );
    assert.equal(json.status, 202);
    const first = (await json.json()) as EditObject;
    const asMultipart = (fields: Record<string, string>, image?: { bytes: Buffer }) =>
      api.call('/v1/edits', {
        method: 'POST',
        headers: { 'idempotency-key': key },
        body: multipartOf(
          {
            instruction: 'put a red hat on it',
            steps: '12',
            guidance: '6.50',
            metadata: JSON.stringify({ tags: ['a', 'b'], order: 7 }),
            ...fields,
          },
          image,
        ),
      });
    const sameByUrl = await asMultipart({ image_url: imageUrl });
    assert.equal(sameByUrl.status, 202);
    assert.equal(((await sameByUrl.json()) as EditObject).id, first.id);
    // The same bytes as a file part: the image is its bytes, not where they came from.
    const sameByFile = await asMultipart({}, { bytes: png });
    assert.equal(((await sameByFile.json()) as EditObject).id, first.id);
    const changedInMultipart = await asMultipart({ image_url: imageUrl, steps: '13' });
    assert.equal(changedInMultipart.status, 409);
    assert.equal(((await changedInMultipart.json()) as { error: { code: string } }).error.code, 'idempotency_conflict');
    const changedImage = await asMultipart({}, { bytes: Buffer.concat([png, Buffer.from([0])]) });
    assert.equal(changedImage.status, 409);
    const changedInJson = await api.call(
      '/v1/edits',
      jsonInit(
        { instruction: 'put a red hat on it', image_url: imageUrl, steps: 12, guidance: 6.5, metadata: { order: 8 } },
        { 'idempotency-key': key },
      ),
    );
    assert.equal(changedInJson.status, 409);
  });

  it('cancels a queued edit at once and queues its edit.completed webhook', async () => {
    const webhookUrl = 'http://127.0.0.2:9/hook';
    const { edit } = await submit({ webhook_url: webhookUrl, webhook_events: 'started' });
    const response = await api.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
    assert.equal(response.status, 200);
    const canceled = (await response.json()) as EditObject;
    assert.equal(canceled.status, 'canceled');
    assert.equal(canceled.queue_position, null);
    assert.ok(canceled.completed_at);
    const redis = new Redis(api.redis.url);
    try {
      const jobKeys = await redis.keys(`${new RedisKeys(api.config.redis.keyPrefix).bullPrefix()}:webhook:msg_*`);
      const bodies = await Promise.all(jobKeys.map(async (k) => JSON.parse((await redis.hget(k, 'data')) ?? '{}')));
      const ours = bodies.find((d) => d.editId === edit.id);
      assert.ok(ours, 'a webhook job for the canceled edit');
      assert.equal(ours.url, webhookUrl);
      const event = JSON.parse(ours.body);
      assert.equal(event.type, 'edit.completed');
      assert.equal(event.data.status, 'canceled');
      assert.match(ours.messageId, /^msg_[0-9A-Z]{26}$/);
    } finally {
      redis.disconnect();
    }
  });

  it('marks a running edit cancel_requested and fans the cancel out to every worker', async () => {
    const { edit } = await submit();
    // Stand in for the worker that took the job.
    await api.edits.markRunning(edit.id, 1, new Date());
    const subscriber = new Redis(api.redis.url);
    const bus = new RedisCancelBus(subscriber, new RedisKeys(api.config.redis.keyPrefix));
    const heard: string[] = [];
    const unsubscribe = await bus.subscribe((message) => heard.push(message.editId));
    try {
      const response = await api.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
      assert.equal(response.status, 200);
      const body = (await response.json()) as EditObject;
      assert.equal(body.status, 'running');
      assert.equal(body.cancel_requested, true);
      const deadline = Date.now() + 5000;
      while (!heard.includes(edit.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(heard.includes(edit.id));
    } finally {
      await unsubscribe();
      await bus.close();
      subscriber.disconnect();
    }
  });

  it('pages the list newest first without gaps or repeats, and filters by status', async () => {
    for (let i = 0; i < 25; i++) await submit({ instruction: `edit number ${i}` });
    const all = (await (await api.call('/v1/edits?limit=100')).json()) as {
      data: EditObject[];
      next_cursor: string | null;
    };
    assert.ok(all.data.length >= 25);
    const sorted = [...all.data].sort((a, b) =>
      a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1,
    );
    assert.deepEqual(
      all.data.map((e) => e.id),
      sorted.map((e) => e.id),
    );
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 40; page++) {
      const query: string = cursor ? `?limit=7&cursor=${cursor}` : '?limit=7';
      const body = (await (await api.call(`/v1/edits${query}`)).json()) as {
        data: EditObject[];
        next_cursor: string | null;
      };
      assert.ok(body.data.length <= 7);
      paged.push(...body.data.map((e) => e.id));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(
      paged,
      all.data.map((e) => e.id),
    );
    const canceled = (await (await api.call('/v1/edits?status=canceled,failed&limit=100')).json()) as {
      data: EditObject[];
    };
    assert.ok(canceled.data.length >= 1);
    assert.ok(canceled.data.every((e) => e.status === 'canceled' || e.status === 'failed'));
  });

  it('Prefer: wait answers 202 with the unfinished edit when nothing finishes in time', async () => {
    const started = Date.now();
    const { response, edit } = await submit({}, { prefer: 'wait=1' });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('preference-applied'), 'wait=1');
    assert.equal(edit.status, 'queued');
    assert.ok(Date.now() - started >= 900);
  });

  it('Prefer: wait answers 200 once terminal, clamps N to 60, and signs the output URL', async () => {
    const marker = randomUUID();
    const outputBytes = await pngOf(96, 64);
    // A stand-in worker: finds the new edit, writes an output object, marks it succeeded.
    const worker = (async () => {
      for (let i = 0; i < 100; i++) {
        const page = await api.edits.list('acme', { statuses: ['queued'], limit: 100, after: null });
        const record = page.records.find((r) => (r.metadata as { marker?: string } | null)?.marker === marker);
        if (record) {
          await api.edits.markRunning(record.id, 1, new Date());
          const key = `outputs/acme/${record.id}.png`;
          await api.objectStore.put(key, outputBytes, { contentType: 'image/png' });
          await api.edits.markSucceeded(
            record.id,
            { key, width: 96, height: 64, format: 'png', seed: record.input.seed },
            new Date(),
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const { response, edit } = await submit({ metadata: JSON.stringify({ marker }) }, { prefer: 'wait=600' });
    await worker;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('preference-applied'), 'wait=60');
    assert.equal(edit.status, 'succeeded');
    assert.ok(edit.output);
    assert.equal(edit.output.seed, edit.input.seed);
    assert.ok(Date.parse(edit.output.expires_at) > Date.now() + 50 * 60_000);
    const download = await fetch(edit.output.url);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), outputBytes);
    // Signed afresh on every read.
    await new Promise((r) => setTimeout(r, 1100));
    const again = (await (await api.call(`/v1/edits/${edit.id}`)).json()) as EditObject;
    assert.notEqual(again.output?.url, edit.output.url);
  });
});
