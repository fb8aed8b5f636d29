import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, toFile } from 'openai';
import sharp from 'sharp';
import type { EditList, EditObject } from '@step1x/contracts';
import { pngOf, spawnService, startServiceStack, TENANTS, waitForEdit, type ServiceStack } from './service-harness';

/**
 * POST /v1/images/edits and GET /v1/models through the official `openai` npm client, unchanged but for `baseURL`
 * and the key, against the real service (API and worker processes, redis-server, s3rver, tiny models). StepFun-style
 * extras (`steps`) ride in the body as extra fields, as a caller would send them.
 */
describe('OpenAI-compatible image edits: official openai npm client (e2e)', () => {
  let stack: ServiceStack;
  let client: OpenAI;
  let png: Buffer;
  const MODEL = 'step1x-edit-v1.1';
  const WIDTH = 72;
  const HEIGHT = 48;
  /** Steps 2 at the smallest size keeps each tiny edit well under a second on a quiet machine. */
  const extras = { steps: 2 } as Record<string, unknown>;
  const image = () => toFile(png, 'input.png', { type: 'image/png' });

  before(async () => {
    stack = await startServiceStack();
    await stack.startWorker({ WORKER_CONCURRENCY: '1' });
    png = await pngOf(WIDTH, HEIGHT);
    client = new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: TENANTS.acme.key, maxRetries: 0, timeout: 120_000 });
  });
  after(async () => {
    await stack?.stop();
  });

  const editObject = async (id: string) => (await (await stack.call(`/v1/edits/${id}`)).json()) as EditObject;
  const editCount = async () => {
    const list = (await (await stack.call('/v1/edits?limit=100')).json()) as EditList<EditObject>;
    return list.data.length;
  };
  const idOf = (entry: unknown) => (entry as { edit_id: string }).edit_id;
  /** A fetch that counts the client's requests to the service (it also fetches a `data:` URL to probe FormData). */
  const countingFetch =
    (count: () => void): typeof fetch =>
    (input, init) => {
      if (String(input).startsWith('http')) count();
      return fetch(input, init);
    };

  it('lists the served model and refuses another with model_not_found', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    assert.deepEqual(
      models.map((m) => [m.id, m.object]),
      [[MODEL, 'model']],
    );
    assert.equal((await client.models.retrieve(MODEL)).id, MODEL);
    const error = await client.models.retrieve('gpt-image-1').catch((e: unknown) => e);
    assert.ok(error instanceof NotFoundError, String(error));
    assert.equal(error.code, 'model_not_found');
    const edit = await client.images
      .edit({ model: 'gpt-image-1', image: await image(), prompt: 'make it blue' })
      .catch((e: unknown) => e);
    assert.ok(edit instanceof NotFoundError, String(edit));
    assert.equal(edit.code, 'model_not_found');
    assert.equal(edit.type, 'invalid_request_error');
  });

  it("response_format 'url': a presigned URL to an image of the input's size; the edit is an ordinary one", async () => {
    const result = await client.images.edit({
      model: MODEL,
      image: await image(),
      prompt: 'make the sky pink',
      response_format: 'url',
      size: '512x512',
      user: 'end-user-42',
      ...extras,
    });
    assert.equal(result.data?.length, 1);
    const [first] = result.data!;
    assert.equal(first.revised_prompt, null);
    assert.equal(first.b64_json, undefined);
    const download = await fetch(first.url!);
    assert.equal(download.status, 200);
    const meta = await sharp(Buffer.from(await download.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', WIDTH, HEIGHT]);
    assert.equal(result.size, `${WIDTH}x${HEIGHT}`);
    assert.equal(typeof result.created, 'number');
    assert.equal((result.usage as unknown as { images: number; steps: number }).images, 1);
    assert.equal((result.usage as unknown as { steps: number }).steps, 2);
    const edit = await editObject(idOf(first));
    assert.equal(edit.status, 'succeeded');
    assert.equal(edit.input.instruction, 'make the sky pink');
    assert.equal(edit.input.steps, 2);
    assert.equal(edit.input.size_level, 512);
    assert.deepEqual(edit.metadata, { openai: { n: 1, index: 0, user: 'end-user-42' } });
  });

  it("response_format 'b64_json' (the default): the decoded bytes are an image of the input's size", async () => {
    const result = await client.images.edit({
      model: MODEL,
      image: await image(),
      prompt: 'add a red hat',
      output_format: 'webp',
      quality: 'high', // an OpenAI field we cannot honour: accepted and ignored
      ...extras,
    });
    const bytes = Buffer.from(result.data![0].b64_json!, 'base64');
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', WIDTH, HEIGHT]);
    assert.equal(result.output_format, 'webp');
  });

  it('n: 2 makes two edits with consecutive seeds and two different images', async () => {
    const before = await editCount();
    const result = await client.images.edit({
      model: MODEL,
      image: await image(),
      prompt: 'make it snowy',
      n: 2,
      ...extras,
      seed: 1000,
    } as OpenAI.ImageEditParamsNonStreaming);
    assert.equal(result.data?.length, 2);
    const [a, b] = result.data!.map((entry) => Buffer.from(entry.b64_json!, 'base64'));
    assert.notDeepEqual(a, b);
    for (const bytes of [a, b]) {
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.width, meta.height], [WIDTH, HEIGHT]);
    }
    const edits = await Promise.all(result.data!.map((entry) => editObject(idOf(entry))));
    assert.deepEqual(
      edits.map((edit) => [edit.status, edit.input.seed]),
      [
        ['succeeded', 1000],
        ['succeeded', 1001],
      ],
    );
    assert.equal(await editCount(), before + 2);
  });

  it('stream: true with partial_images: 2 yields partial images from step previews, then the completed image', async () => {
    const stream = await client.images.edit({
      model: MODEL,
      image: await image(),
      prompt: 'make it night',
      stream: true,
      partial_images: 2,
      output_format: 'webp',
      steps: 6,
    } as OpenAI.ImageEditParamsStreaming);
    const events: OpenAI.ImageEditStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = JSON.stringify(events.map((e) => e.type));
    const completed = events.at(-1);
    assert.ok(completed && completed.type === 'image_edit.completed', types);
    const partials = events.slice(0, -1);
    assert.ok(partials.length >= 1 && partials.length <= 2, types);
    for (const [index, partial] of partials.entries()) {
      assert.ok(partial.type === 'image_edit.partial_image', types);
      assert.equal(partial.partial_image_index, index);
      assert.equal(partial.output_format, 'webp');
      const meta = await sharp(Buffer.from(partial.b64_json, 'base64')).metadata();
      assert.equal(meta.format, 'webp');
      assert.ok(meta.width! <= 256 && meta.height! <= 256, `a preview, ${meta.width}x${meta.height}`);
      assert.equal(partial.size, `${meta.width}x${meta.height}`);
    }
    const meta = await sharp(Buffer.from(completed.b64_json, 'base64')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', WIDTH, HEIGHT]);
    assert.equal(completed.size, `${WIDTH}x${HEIGHT}`);
    const edit = await editObject(idOf(completed));
    assert.equal(edit.status, 'succeeded');
    // Every ceil(6 / 3) = 2 steps: previews at steps 2 and 4 become the partial images (6 is the final one).
    assert.deepEqual([edit.input.steps, edit.input.previews], [6, 2]);
    assert.equal(partials.length, 2, types);
  });

  it('a request that does not stream asks for no previews (they would cost worker time for nothing)', async () => {
    const result = await client.images.edit({
      model: MODEL,
      image: await image(),
      prompt: 'make it dusk',
      partial_images: 2,
      ...extras,
    } as OpenAI.ImageEditParamsNonStreaming);
    assert.equal((await editObject(idOf(result.data![0]))).input.previews, false);
  });

  it('a bad request is the client’s BadRequestError with our code and the OpenAI param name', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ n: 5 }, 'out_of_range', 'n'],
      [{ prompt: '   ' }, 'invalid_request', 'prompt'],
      [{ cfg_scale: 50 }, 'out_of_range', 'cfg_scale'],
      [{ size: 'huge' }, 'invalid_request', 'size'],
      [{ style: 'vivid' }, 'unknown_field', 'style'],
      [{ mask: await toFile(png, 'mask.png', { type: 'image/png' }) }, 'invalid_request', 'mask'],
      [{ image: [await image(), await image()] }, 'invalid_request', 'image'],
    ];
    const before = await editCount();
    for (const [fields, code, param] of cases) {
      const error = await client.images
        .edit({ model: MODEL, image: await image(), prompt: 'make it blue', ...fields } as OpenAI.ImageEditParams)
        .catch((e: unknown) => e);
      assert.ok(error instanceof BadRequestError, `${JSON.stringify(fields)}: ${String(error)}`);
      assert.deepEqual([error.code, error.param, error.type], [code, param, 'invalid_request_error']);
    }
    assert.equal(await editCount(), before);
  });

  it('`image[]` with one file is accepted', async () => {
    const result = await client.images.edit({ model: MODEL, image: [await image()], prompt: 'make it red', ...extras });
    assert.equal(result.data?.length, 1);
  });

  it('a wrong key is the client’s AuthenticationError', async () => {
    const wrong = new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: 'sk_not_a_key', maxRetries: 0 });
    const error = await wrong.images.edit({ model: MODEL, image: await image(), prompt: 'x' }).catch((e: unknown) => e);
    assert.ok(error instanceof AuthenticationError, String(error));
    assert.deepEqual([error.code, error.type], ['unauthorized', 'authentication_error']);
    const models = await wrong.models.list().catch((e: unknown) => e);
    assert.ok(models instanceof AuthenticationError, String(models));
  });

  it('a request the client retries with the same Idempotency-Key makes no second edit', async () => {
    let attempts = 0;
    const counting = countingFetch(() => attempts++);
    // The first attempt times out while its edit runs; the client retries it with the same headers.
    const retrying = new OpenAI({
      baseURL: `${stack.apiUrl}/v1`,
      apiKey: TENANTS.acme.key,
      fetch: counting,
      timeout: 150,
      maxRetries: 1,
    });
    const before = await editCount();
    const key = `retry-${Date.now()}`;
    const params = { model: MODEL, image: await image(), prompt: 'paint it gold', steps: 12 };
    const first = await retrying.images
      .edit(params as OpenAI.ImageEditParamsNonStreaming, { headers: { 'Idempotency-Key': key }, timeout: 150 })
      .catch((e: unknown) => e);
    assert.equal(attempts, 2, 'the client retried once');
    assert.ok(first instanceof APIError, 'both attempts timed out while the edit ran');
    const again = await client.images.edit({ ...params, image: await image() } as OpenAI.ImageEditParamsNonStreaming, {
      headers: { 'Idempotency-Key': key },
    });
    assert.equal(await editCount(), before + 1);
    const edit = await editObject(idOf(again.data![0]));
    assert.equal(edit.status, 'succeeded');
    const replay = await client.images.edit(
      { ...params, image: await image(), response_format: 'url' } as OpenAI.ImageEditParamsNonStreaming,
      { headers: { 'Idempotency-Key': key } },
    );
    assert.equal(idOf(replay.data![0]), edit.id);
    assert.equal(await editCount(), before + 1);
  });

  it('past OPENAI_SYNC_TIMEOUT_S: 504 naming the edits, not retried by the client; the edit still finishes', async () => {
    const api = spawnService({ ...stack.env, ROLE: 'api', LOG_LEVEL: 'warn', OPENAI_SYNC_TIMEOUT_S: '1' });
    try {
      const [, url] = await api.waitForOutput(/is up at (http:\/\/\S+)/);
      let attempts = 0;
      const impatient = new OpenAI({
        baseURL: `${url}/v1`,
        apiKey: TENANTS.acme.key,
        fetch: countingFetch(() => attempts++),
      });
      const error = await impatient.images
        .edit({ model: MODEL, image: await image(), prompt: 'make it gold', steps: 8 } as OpenAI.ImageEditParams)
        .catch((e: unknown) => e);
      assert.ok(error instanceof APIError, String(error));
      assert.deepEqual([error.status, error.code, error.type], [504, 'edits_still_running', 'server_error']);
      assert.equal(attempts, 1, 'x-should-retry: false stops the client from making the edit again');
      const [id] = (error.error as { edit_ids: string[] }).edit_ids;
      const { edit } = await waitForEdit(stack, id, (e) => e.status === 'succeeded', 120_000);
      assert.equal(edit.input.steps, 8);
    } finally {
      await api.process.stop(10_000);
    }
  });

  it('the OpenAPI document has the routes, the multipart body and the OpenAI shapes', async () => {
    const doc = (await (await fetch(`${stack.apiUrl}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    assert.ok(doc.paths['/v1/images/edits'].post.requestBody?.content['multipart/form-data']);
    assert.ok(doc.paths['/v1/models'].get);
    assert.ok(doc.paths['/v1/models/{id}'].get);
    const form = Object.keys(doc.components.schemas.OpenAiImageEditMultipart.properties ?? {});
    for (const field of ['image', 'prompt', 'n', 'size', 'response_format', 'stream', 'steps', 'cfg_scale', 'seed']) {
      assert.ok(form.includes(field), field);
    }
    assert.ok(doc.components.schemas.OpenAiError && doc.components.schemas.OpenAiImagesResponse);
  });

  it('the rest of the API keeps the contract’s error shape', async () => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"instruction":"x","bogus":1}',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: { code: 'unknown_field', message: 'unknown field "bogus"', param: 'bogus' },
    });
  });
});
