import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject, UploadTicket } from '@step1x/contracts';
import { errorOf, jsonInit, multipartOf, pngOf, startApiHarness, type ApiHarness } from './api-harness';

describe('API uploads (e2e)', () => {
  let api: ApiHarness;
  let png: Buffer;

  before(async () => {
    api = await startApiHarness();
    png = await pngOf(120, 80);
  });
  after(async () => {
    await api.stop();
  });

  const ticketFor = async (size: number, tenant: 'acme' | 'globex' = 'acme'): Promise<UploadTicket> => {
    const response = await api.call('/v1/uploads', { ...jsonInit({ content_type: 'image/png', size }), tenant });
    assert.equal(response.status, 201);
    return (await response.json()) as UploadTicket;
  };
  const put = (ticket: UploadTicket, bytes: Buffer) =>
    fetch(ticket.upload_url, { method: ticket.method, headers: ticket.headers, body: bytes });
  const createFromKey = (imageKey: string, tenant: 'acme' | 'globex' = 'acme') =>
    api.call('/v1/edits', { ...jsonInit({ instruction: 'sharpen it', image_key: imageKey }), tenant });

  it('presigned PUT, then an edit from image_key', async () => {
    const ticket = await ticketFor(png.length);
    assert.equal(ticket.method, 'PUT');
    assert.match(ticket.image_key, /^uploads\/acme\//);
    const expiresIn = Date.parse(ticket.expires_at) - Date.now();
    assert.ok(expiresIn > 14 * 60_000 && expiresIn <= 15 * 60_000 + 1000, `expires in ${expiresIn} ms`);
    assert.equal((await put(ticket, png)).status, 200);
    const response = await createFromKey(ticket.image_key);
    assert.equal(response.status, 202);
    const edit = (await response.json()) as EditObject;
    assert.equal(edit.input.width, 120);
    assert.equal(edit.input.height, 80);
  });

  it("refuses another tenant's key, an unknown key and a key with nothing uploaded", async () => {
    const ticket = await ticketFor(png.length);
    assert.equal((await put(ticket, png)).status, 200);
    const foreign = await errorOf(await createFromKey(ticket.image_key, 'globex'));
    assert.deepEqual([foreign.status, foreign.code, foreign.param], [400, 'invalid_request', 'image_key']);
    const unknown = await errorOf(await createFromKey('uploads/acme/01HZZZZZZZZZZZZZZZZZZZZZZZ'));
    assert.deepEqual([unknown.status, unknown.code], [400, 'invalid_request']);
    const empty = await ticketFor(png.length);
    const nothing = await errorOf(await createFromKey(empty.image_key));
    assert.deepEqual([nothing.status, nothing.code], [400, 'invalid_request']);
  });

  it('decodes the uploaded bytes before accepting: garbage is 422 invalid_image', async () => {
    const garbage = Buffer.from('this is not a png, just text pretending');
    const ticket = await ticketFor(garbage.length);
    assert.equal((await put(ticket, garbage)).status, 200);
    const error = await errorOf(await createFromKey(ticket.image_key));
    assert.deepEqual([error.status, error.code, error.param], [422, 'invalid_image', 'image_key']);
  });

  // s3rver, like some S3-compatible stores, does not enforce the signed Content-Type and Content-Length of a
  // presigned PUT; the API re-checks the stored object, so what a lax store accepted never becomes an edit.
  it('re-checks the stored size and type against the declaration: 413, 400 and 415', async () => {
    const bigger = await ticketFor(png.length);
    const padded = Buffer.concat([png, Buffer.alloc(4096)]);
    const overPut = await fetch(bigger.upload_url, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: padded,
    });
    assert.equal(overPut.status, 200, 'the store itself did not enforce the signed length');
    const over = await errorOf(await createFromKey(bigger.image_key));
    assert.deepEqual([over.status, over.code, over.param], [413, 'payload_too_large', 'image_key']);

    const smaller = await ticketFor(png.length + 10);
    assert.equal(
      (await fetch(smaller.upload_url, { method: 'PUT', body: png, headers: { 'content-type': 'image/png' } })).status,
      200,
    );
    const short = await errorOf(await createFromKey(smaller.image_key));
    assert.deepEqual([short.status, short.code, short.param], [400, 'invalid_request', 'image_key']);

    const retyped = await ticketFor(png.length);
    const typePut = await fetch(retyped.upload_url, {
      method: 'PUT',
      headers: { 'content-type': 'text/html' },
      body: png,
    });
    assert.equal(typePut.status, 200, 'the store itself did not enforce the signed type');
    const type = await errorOf(await createFromKey(retyped.image_key));
    assert.deepEqual([type.status, type.code, type.param], [415, 'unsupported_media_type', 'image_key']);
  });

  it('validates the upload request itself', async () => {
    const bad = await errorOf(await api.call('/v1/uploads', jsonInit({ content_type: 'image/svg+xml', size: 10 })));
    assert.deepEqual([bad.status, bad.code, bad.param], [400, 'invalid_request', 'content_type']);
    const extra = await errorOf(
      await api.call('/v1/uploads', jsonInit({ content_type: 'image/png', size: 10, name: 'x' })),
    );
    assert.deepEqual([extra.status, extra.code], [400, 'unknown_field']);
    const zero = await errorOf(await api.call('/v1/uploads', jsonInit({ content_type: 'image/png', size: 0 })));
    assert.deepEqual([zero.status, zero.code], [400, 'out_of_range']);
  });
});

describe('API operations: webhook secret, health, OpenAPI, metrics (e2e)', () => {
  let api: ApiHarness;

  before(async () => {
    api = await startApiHarness();
  });
  after(async () => {
    await api.stop();
  });

  it('gives each tenant one stable whsec_ secret of 32 random bytes', async () => {
    const read = async (tenant: 'acme' | 'globex') =>
      ((await (await api.call('/v1/webhooks/secret', { tenant })).json()) as { secret: string }).secret;
    const acme = await read('acme');
    assert.match(acme, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(Buffer.from(acme.slice('whsec_'.length), 'base64').length, 32);
    assert.equal(await read('acme'), acme);
    assert.notEqual(await read('globex'), acme);
  });

  it('answers /healthz and /readyz without a key', async () => {
    const health = await fetch(`${api.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${api.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { redis: 'ok', s3: 'ok' } });
  });

  it('serves the OpenAPI document at /docs with every route and the contract schemas', async () => {
    const response = await fetch(`${api.baseUrl}/docs`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/edits'].post.responses['202']);
    assert.ok(doc.paths['/v1/edits'].post.responses['429']);
    assert.ok(doc.paths['/v1/edits'].get);
    assert.ok(doc.paths['/v1/edits/{id}'].get);
    assert.ok(doc.paths['/v1/edits/{id}/cancel'].post.responses['409']);
    assert.ok(doc.paths['/v1/uploads'].post);
    assert.ok(doc.paths['/v1/webhooks/secret'].get);
    assert.deepEqual(doc.components.schemas.Edit.required?.sort(), [
      'attempts', 'batch_id', 'cancel_requested', 'completed_at', 'compute', 'created_at', 'custom_id', 'error', 'eta_s',
      'id', 'input', 'metadata', 'output', 'progress', 'queue_position', 'started_at', 'status', 'timings', 'webhook',
    ]); // prettier-ignore
    const html = await fetch(`${api.baseUrl}/docs`, { headers: { accept: 'text/html' } });
    assert.match(html.headers.get('content-type') ?? '', /text\/html/);
    assert.equal((await fetch(`${api.baseUrl}/docs/openapi.json`)).status, 200);
    assert.equal((await fetch(`${api.baseUrl}/docs/assets/swagger-ui-bundle.js`)).status, 200);
  });

  it('exposes Prometheus text at /metrics that counts what happened', async () => {
    const png = await pngOf(32, 32);
    const created = await api.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'x', priority: 'batch' }, { bytes: png }),
    });
    assert.equal(created.status, 202);
    await api.call('/v1/edits', { tenant: null });
    const response = await fetch(`${api.baseUrl}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    assert.match(text, /^step1x_edits_created_total\{priority="batch"\} 1$/m);
    assert.match(text, /^step1x_api_errors_total\{code="unauthorized"\} 1$/m);
    assert.match(text, /^step1x_queue_depth\{lane="batch"\} 1$/m);
    assert.match(text, /^step1x_http_requests_total\{method="POST",route="\/v1\/edits",status="202"\} 1$/m);
    assert.match(text, /^# TYPE step1x_http_request_duration_seconds histogram$/m);
  });
});
