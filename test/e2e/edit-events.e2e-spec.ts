import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject, WebhookEvent } from '@step1x/contracts';
import type { EventSourceMessage } from 'eventsource-parser';
import sharp from 'sharp';
import { openSse, type SseConnection } from '../support/sse-client';
import {
  multipartOf,
  pngOf,
  redisClientCount,
  spawnService,
  startServiceStack,
  TENANTS,
  type ServiceProcess,
  type ServiceStack,
  type TenantName,
} from './service-harness';

const HEARTBEAT_MS = 300;

/**
 * GET /v1/edits/{id}/events through real processes: two API processes (ROLE=api) and a worker (ROLE=worker, the
 * tiny pipeline) on one redis-server and s3rver (CONTRACT.md "Live events and previews").
 */
describe('edit events: SSE from any API process (e2e)', () => {
  let stack: ServiceStack;
  let secondApi: ServiceProcess;
  let secondApiUrl: string;
  let png: Buffer;

  before(async () => {
    stack = await startServiceStack({ SSE_HEARTBEAT_MS: String(HEARTBEAT_MS), WEBHOOK_PROGRESS_MIN_INTERVAL_MS: '50' });
    secondApi = spawnService({ ...stack.env, ROLE: 'api', LOG_LEVEL: 'warn' });
    [, secondApiUrl] = await secondApi.waitForOutput(/is up at (http:\/\/\S+)/);
    png = await pngOf(48, 40);
  });
  after(async () => {
    await secondApi?.process.stop(10_000);
    await stack?.stop();
  });

  const submit = async (fields: Record<string, string> = {}): Promise<EditObject> => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'make it blue', steps: '12', ...fields }, { bytes: png, type: 'image/png' }),
    });
    assert.equal(response.status, 202, await response.clone().text());
    return (await response.json()) as EditObject;
  };
  const events = (
    id: string,
    options: { apiUrl?: string; tenant?: TenantName; lastEventId?: string } = {},
  ): Promise<SseConnection> =>
    openSse(`${options.apiUrl ?? stack.apiUrl}/v1/edits/${id}/events`, {
      authorization: `Bearer ${TENANTS[options.tenant ?? 'acme'].key}`,
      ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
    });
  const isCompleted = (list: readonly EventSourceMessage[]) => list.some((e) => e.event === 'edit.completed');
  const bodyOf = (event: EventSourceMessage) => JSON.parse(event.data) as WebhookEvent;
  /** Stream ids `<ms>-<seq>` compared as numbers: strictly increasing means ordered and unrepeated. */
  const assertIncreasing = (list: readonly EventSourceMessage[]) => {
    const key = (id: string) => id.split('-').map(BigInt);
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [key(list[i - 1].id!), key(list[i].id!)];
      assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `ids ${list[i - 1].id} then ${list[i].id}`);
    }
  };

  it('refuses before the stream starts: 401 without a key, 404 (JSON) for an unknown or another tenant’s edit, 400 for a bad Last-Event-ID', async () => {
    const edit = await submit();
    const anonymous = await fetch(`${stack.apiUrl}/v1/edits/${edit.id}/events`);
    assert.equal(anonymous.status, 401);
    for (const [id, tenant] of [
      ['edit_01HZZZZZZZZZZZZZZZZZZZZZZZ', 'acme'],
      [edit.id, 'globex'],
    ] as const) {
      const refused = await events(id, { tenant });
      assert.equal(refused.status, 404);
      assert.match(refused.headers.get('content-type') ?? '', /application\/json/);
      assert.equal((refused.errorBody as { error: { code: string } }).error.code, 'not_found');
    }
    const bad = await events(edit.id, { lastEventId: 'not-an-id' });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.errorBody as { error: object }).error, {
      code: 'invalid_request',
      message: 'Last-Event-ID must be an event id of this stream (`<ms>-<seq>`)',
      param: 'Last-Event-ID',
    });
    await stack.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
  });

  it('is in the OpenAPI document, with previews in the create request and the edit object', async () => {
    const doc = (await (await fetch(`${stack.apiUrl}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, { required?: string[] }> }> };
    };
    const route = doc.paths['/v1/edits/{id}/events'].get;
    for (const status of ['200', '400', '401', '404', '503']) assert.ok(route.responses[status], status);
    assert.ok(doc.components.schemas.CreateEditRequest.properties.previews);
    assert.ok(doc.components.schemas.Edit.properties.input.required?.includes('previews'));
  });

  it('a queued edit: heartbeat comments while idle; the API’s own cancel ends the stream with edit.completed', async () => {
    const edit = await submit();
    const stream = await events(edit.id);
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    await stream.waitFor(() => stream.comments.length >= 2, 10_000);
    assert.equal(stream.events.length, 0, 'nothing happened yet');
    const canceled = await stack.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
    assert.equal(canceled.status, 200);
    await stream.ended;
    assert.deepEqual(
      stream.events.map((e) => e.event),
      ['edit.completed'],
    );
    const completed = bodyOf(stream.events[0]);
    assert.equal(completed.data.status, 'canceled');
    assert.equal(completed.data.id, edit.id);
  });

  it('a worker in another process: both API processes stream every event in order; a reconnect with Last-Event-ID neither loses nor repeats one', async () => {
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    const edit = await submit({ steps: '24' });
    const first = await events(edit.id);
    const second = await events(edit.id, { apiUrl: secondApiUrl });
    const interrupted = await events(edit.id, { apiUrl: secondApiUrl });
    // Disconnect mid-edit: after the start and at least one progress event.
    await interrupted.waitFor((list) => list.some((e) => e.event === 'edit.progress'));
    interrupted.close();
    await interrupted.ended;
    const seen = [...interrupted.events];
    assert.ok(!isCompleted(seen), 'disconnected before the end');
    const resumed = await events(edit.id, { lastEventId: seen.at(-1)!.id });
    await Promise.all([first.ended, second.ended, resumed.ended]);

    const types = first.events.map((e) => e.event);
    assert.equal(types[0], 'edit.started');
    assert.equal(types.at(-1), 'edit.completed');
    assert.ok(types.filter((t) => t === 'edit.progress').length >= 2, `progress events: ${types}`);
    assertIncreasing(first.events);
    const final = bodyOf(first.events.at(-1)!);
    assert.equal(final.data.status, 'succeeded');
    assert.deepEqual(final.data.progress, { step: 24, total: 24 });
    assert.ok(final.data.output?.url, 'the completed body is the webhook body, with a signed output URL');

    const ids = (list: readonly EventSourceMessage[]) => list.map((e) => `${e.id} ${e.event}`);
    assert.deepEqual(ids(second.events), ids(first.events), 'the other API process streamed the same events');
    assert.deepEqual(
      [...ids(seen), ...ids(resumed.events)],
      ids(first.events),
      'no loss, no repeat across the reconnect',
    );

    // Already terminal: the replay, then the end.
    const replay = await events(edit.id);
    await replay.ended;
    assert.deepEqual(ids(replay.events), ids(first.events));
    const afterLast = await events(edit.id, { lastEventId: first.events.at(-1)!.id, apiUrl: secondApiUrl });
    await afterLast.ended;
    assert.deepEqual(afterLast.events, []);
  });

  it('previews: every k steps a JPEG ≤ 256 px in S3 at previews/<tenant>/<edit>/<step>.jpg, an edit.preview event and (when asked) webhook', async () => {
    const hook = '/hooks/previews';
    const edit = await submit({
      steps: '8',
      previews: '3',
      size_level: '512',
      webhook_url: stack.receiver.urlFor(hook),
      webhook_events: 'preview',
    });
    assert.equal(edit.input.previews, 3, 'echoed in input');
    const stream = await events(edit.id);
    await stream.ended;
    const previews = stream.events.filter((e) => e.event === 'edit.preview').map((e) => bodyOf(e));
    assert.deepEqual(
      previews.map((p) => (p.data as unknown as { step: number }).step),
      [3, 6],
      `preview steps of ${stream.events.map((e) => e.event)}`,
    );
    assert.equal(stream.events.at(-1)?.event, 'edit.completed', 'previews come before the end');
    for (const preview of previews) {
      const data = preview.data as unknown as { id: string; step: number; total: number; url: string };
      assert.equal(data.id, edit.id);
      assert.equal(data.total, 8);
      const key = `previews/acme/${edit.id}/${data.step}.jpg`;
      assert.ok(await stack.objectStore.exists(key), key);
      const response = await fetch(data.url);
      assert.equal(response.status, 200);
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.ok(Math.max(meta.width!, meta.height!) <= 256, `${meta.width}x${meta.height}`);
      assert.ok(Math.max(meta.width!, meta.height!) >= 32, 'the latent grid of a 512 edit');
    }
    const received = await stack.receiver.waitFor(
      (requests) => requests.filter((r) => r.path === hook && r.text.includes('"edit.preview"')).length >= 2,
      15_000,
    );
    const hooked = received.filter((r) => r.path === hook).map((r) => (JSON.parse(r.text) as { type: string }).type);
    assert.ok(!hooked.includes('edit.started') && !hooked.includes('edit.progress'), `only what was asked: ${hooked}`);
    const plain = await submit({ steps: '4' });
    assert.equal(plain.input.previews, false, 'off by default');
    const plainStream = await events(plain.id);
    await plainStream.ended;
    assert.ok(!plainStream.events.some((e) => e.event === 'edit.preview'));
  });

  it('many streams opened and dropped mid-stream leave no follower and no Redis connection behind', async () => {
    const edit = await submit({ steps: '100' });
    const clientsBefore = await redisClientCount(stack.redisClient);
    for (let round = 0; round < 4; round++) {
      const streams = await Promise.all(Array.from({ length: 25 }, () => events(edit.id)));
      assert.ok(streams.every((s) => s.status === 200));
      streams.forEach((s) => s.close());
      await Promise.all(streams.map((s) => s.ended));
    }
    const gauge = async () => {
      const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
      const value = (state: string) =>
        Number(text.match(new RegExp(`^step1x_sse_streams_open\\{state="${state}"\\} (\\d+)$`, 'm'))?.[1]);
      return { open: value('open'), following: value('following') };
    };
    const deadline = Date.now() + 5000;
    let current = await gauge();
    while ((current.open !== 0 || current.following !== 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      current = await gauge();
    }
    assert.deepEqual(current, { open: 0, following: 0 });
    assert.equal(await redisClientCount(stack.redisClient), clientsBefore, 'no Redis connection per stream');
    await stack.call(`/v1/edits/${edit.id}/cancel`, { method: 'POST' });
  });

  it('Redis out of reach: 503 service_unavailable with Retry-After before any stream starts', async () => {
    const edit = await submit();
    stack.redisClient.on('error', () => undefined); // the test's own client: expected to lose its server now
    await stack.redis.stop();
    const refused = await events(edit.id);
    assert.equal(refused.status, 503);
    assert.ok(refused.headers.get('retry-after'));
    assert.equal((refused.errorBody as { error: { code: string } }).error.code, 'service_unavailable');
  });
});
