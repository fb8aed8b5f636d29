import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WebhookReceiver } from '../support/webhook-receiver';
import {
  errorOf,
  jsonInit,
  multipartOf,
  pngOf,
  startApiHarness,
  startApiWithImageHost,
  type ApiHarness,
} from './api-harness';

/** Every 4xx of CONTRACT.md's table, each with its code, over real HTTP, Redis and S3. */
describe('API errors (e2e)', () => {
  let api: ApiHarness;
  let images: WebhookReceiver;
  let png: Buffer;
  let stop: () => Promise<void>;

  before(async () => ({ api, images, png, stop } = await startApiWithImageHost(64, 48)));
  after(() => stop());

  const create = (body: unknown, headers: Record<string, string> = {}) =>
    api.call('/v1/edits', jsonInit(body, headers));
  const expectError = async (response: Response, status: number, code: string, param?: string | null) => {
    const error = await errorOf(response);
    assert.equal(error.status, status, `${code}: ${JSON.stringify(error)}`);
    assert.equal(error.code, code);
    if (param !== undefined) assert.equal(error.param, param);
  };

  it('401 unauthorized with WWW-Authenticate for a missing or wrong key', async () => {
    const missing = await api.call('/v1/edits', { tenant: null });
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    await expectError(missing, 401, 'unauthorized');
    const wrong = await fetch(`${api.baseUrl}/v1/edits`, { headers: { authorization: 'Bearer sk_wrong_key_123' } });
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer/);
    await expectError(wrong, 401, 'unauthorized');
    await expectError(await fetch(`${api.baseUrl}/v1/uploads`, jsonInit({})), 401, 'unauthorized');
    await expectError(
      await fetch(`${api.baseUrl}/v1/webhooks/secret`, { headers: { authorization: 'Basic eDp5' } }),
      401,
      'unauthorized',
    );
  });

  it('400 invalid_request: unparsable JSON, no image source, two sources, blank instruction', async () => {
    await expectError(
      await api.call('/v1/edits', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"instruction":',
      }),
      400,
      'invalid_request',
    );
    await expectError(await create({ instruction: 'add a hat' }), 400, 'invalid_request', 'image');
    await expectError(
      await create({ instruction: 'add a hat', image_key: 'k', image_url: images.urlFor('/a.png') }),
      400,
      'invalid_request',
    );
    await expectError(
      await create({ instruction: '   ', image_url: images.urlFor('/a.png') }),
      400,
      'invalid_request',
      'instruction',
    );
    await expectError(
      await create({ instruction: 'x', image_url: images.urlFor('/a.png'), steps: '20' }),
      400,
      'invalid_request',
      'steps',
    );
  });

  it('400 unknown_field, in JSON and in multipart', async () => {
    await expectError(
      await create({ instruction: 'x', image_key: 'k', sampler: 'euler' }),
      400,
      'unknown_field',
      'sampler',
    );
    const form = multipartOf({ instruction: 'x', colour: 'red' }, { bytes: png });
    await expectError(await api.call('/v1/edits', { method: 'POST', body: form }), 400, 'unknown_field', 'colour');
  });

  it('400 out_of_range for each bounded field', async () => {
    const base = { instruction: 'x', image_key: 'k' };
    for (const [field, value] of [
      ['steps', 101],
      ['guidance', 0.5],
      ['seed', 2 ** 32],
      ['size_level', 640],
    ] as const) {
      await expectError(await create({ ...base, [field]: value }), 400, 'out_of_range', field);
    }
    await expectError(await create({ ...base, instruction: 'é'.repeat(2001) }), 400, 'out_of_range', 'instruction');
    await expectError(await api.call('/v1/edits?limit=101'), 400, 'out_of_range', 'limit');
  });

  it('400 instruction_contains_special_token', async () => {
    await expectError(
      await create({ instruction: 'make it <|image_pad|> blue', image_url: images.urlFor('/a.png') }),
      400,
      'instruction_contains_special_token',
      'instruction',
    );
  });

  it('400 invalid_cursor', async () => {
    await expectError(await api.call('/v1/edits?cursor=garbage!'), 400, 'invalid_cursor', 'cursor');
    const forged = Buffer.from(JSON.stringify({ v: 1, t: 1, id: 'nope' })).toString('base64url');
    await expectError(await api.call(`/v1/edits?cursor=${forged}`), 400, 'invalid_cursor');
  });

  it('404 not_found for an unknown edit and an unknown route', async () => {
    await expectError(await api.call('/v1/edits/edit_01HZZZZZZZZZZZZZZZZZZZZZZZ'), 404, 'not_found');
    await expectError(
      await api.call('/v1/edits/edit_01HZZZZZZZZZZZZZZZZZZZZZZZ/cancel', { method: 'POST' }),
      404,
      'not_found',
    );
    await expectError(await api.call('/v1/nothing-here'), 404, 'not_found');
  });

  it('409 not_cancelable for a terminal edit', async () => {
    const created = await api.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'x' }, { bytes: png }),
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    assert.equal((await api.call(`/v1/edits/${id}/cancel`, { method: 'POST' })).status, 200);
    await expectError(await api.call(`/v1/edits/${id}/cancel`, { method: 'POST' }), 409, 'not_cancelable');
  });

  it('409 idempotency_conflict and idempotency_in_progress', async () => {
    const form = (instruction: string) => multipartOf({ instruction }, { bytes: png });
    const headers = { 'idempotency-key': 'conflict-1' };
    assert.equal((await api.call('/v1/edits', { method: 'POST', headers, body: form('add a hat') })).status, 202);
    await expectError(
      await api.call('/v1/edits', { method: 'POST', headers, body: form('add a scarf') }),
      409,
      'idempotency_conflict',
      'Idempotency-Key',
    );
    // The first request is held while its image downloads slowly; the second arrives meanwhile.
    images.setResponder(() => ({ status: 200, headers: { 'content-type': 'image/png' }, body: png, delayMs: 1500 }));
    const slowBody = { instruction: 'slow', image_url: images.urlFor('/slow.png') };
    const first = create(slowBody, { 'idempotency-key': 'in-progress-1' });
    await images.waitFor((requests) => requests.some((r) => r.path === '/slow.png'));
    await expectError(await create(slowBody, { 'idempotency-key': 'in-progress-1' }), 409, 'idempotency_in_progress');
    assert.equal((await first).status, 202);
    images.setResponder(null);
  });

  it('413 payload_too_large: JSON over 256 KB, a multipart image over 20 MB, a declared upload over 20 MB', async () => {
    await expectError(
      await create({ instruction: 'x', image_key: 'k', metadata: { blob: 'x'.repeat(270_000) } }),
      413,
      'payload_too_large',
    );
    const huge = Buffer.alloc(20 * 1024 * 1024 + 1, 1);
    await expectError(
      await api.call('/v1/edits', { method: 'POST', body: multipartOf({ instruction: 'x' }, { bytes: huge }) }),
      413,
      'payload_too_large',
    );
    await expectError(
      await api.call('/v1/uploads', jsonInit({ content_type: 'image/png', size: 20 * 1024 * 1024 + 1 })),
      413,
      'payload_too_large',
      'size',
    );
  });

  it('415 unsupported_media_type', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const response = await api.call('/v1/edits', {
        method: 'POST',
        headers: { 'content-type': type },
        body: 'instruction=x',
      });
      await expectError(response, 415, 'unsupported_media_type');
    }
  });

  it('422 invalid_image, image_too_large, unsupported_aspect_ratio', async () => {
    const submit = (bytes: Buffer) =>
      api.call('/v1/edits', { method: 'POST', body: multipartOf({ instruction: 'x' }, { bytes }) });
    await expectError(await submit(Buffer.from('definitely not an image')), 422, 'invalid_image', 'image');
    await expectError(await submit(png.subarray(0, png.length - 30)), 422, 'invalid_image');
    await expectError(await submit(await pngOf(8000, 5001)), 422, 'image_too_large');
    await expectError(await submit(await pngOf(1010, 10)), 422, 'unsupported_aspect_ratio');
  });

  // Only loopback targets here: private, link-local and public ones are fed to the service inside a network
  // namespace (service-egress.e2e-spec.ts), where a broken guard reaches nothing.
  it('422 url_not_allowed for loopback addresses, in any notation', async () => {
    for (const url of [
      'http://127.0.0.1/a.png',
      'http://[::1]/a.png',
      'http://2130706433/a.png',
      'http://0x7f000001/a.png',
      'ftp://127.0.0.2/a.png',
    ]) {
      const response = await create({ instruction: 'x', image_url: url });
      const error = await errorOf(response);
      assert.equal(error.status, url.startsWith('ftp') ? 400 : 422, url);
      if (!url.startsWith('ftp')) assert.equal(error.code, 'url_not_allowed', url);
    }
    await expectError(
      await create({ instruction: 'x', image_url: images.urlFor('/a.png'), webhook_url: 'http://127.0.0.1:9/hook' }),
      422,
      'url_not_allowed',
      'webhook_url',
    );
  });

  it('422 url_fetch_failed for an error answer or a redirect to a refused address', async () => {
    images.enqueue({ status: 404, body: 'gone' });
    await expectError(
      await create({ instruction: 'x', image_url: images.urlFor('/missing.png') }),
      422,
      'url_fetch_failed',
      'image_url',
    );
    images.enqueue({ status: 302, headers: { location: 'http://127.0.0.1/a.png' } });
    const redirected = await errorOf(await create({ instruction: 'x', image_url: images.urlFor('/redirect.png') }));
    assert.equal(redirected.status, 422);
    assert.equal(redirected.code, 'url_not_allowed');
  });

  it('keeps serving after all of it', async () => {
    assert.equal((await fetch(`${api.baseUrl}/healthz`)).status, 200);
    assert.equal((await api.call('/v1/edits')).status, 200);
  });
});

describe('API back-pressure (e2e)', () => {
  let api: ApiHarness;

  before(async () => {
    api = await startApiHarness({ QUEUE_MAX_DEPTH: '2', QUEUE_FULL_RETRY_AFTER_S: '7' });
  });
  after(async () => {
    await api.stop();
  });

  it('429 queue_full with Retry-After once the queue holds QUEUE_MAX_DEPTH edits', async () => {
    const png = await pngOf(32, 32);
    const submit = () =>
      api.call('/v1/edits', { method: 'POST', body: multipartOf({ instruction: 'x' }, { bytes: png }) });
    assert.equal((await submit()).status, 202);
    assert.equal((await submit()).status, 202);
    const refused = await submit();
    assert.equal(refused.headers.get('retry-after'), '7');
    const error = await errorOf(refused);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'queue_full');
  });
});
