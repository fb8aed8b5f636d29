import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { APIError } from 'openai';
import { Stream } from 'openai/streaming';
import type { ImageEditStreamEvent } from 'openai/resources/images';
import { ApiError, ErrorCode, type EditObject, type EditRecord } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { EditEventStream, EditRepository, StoredEditEvent } from '@step1x/edit-store';
import { decodeImage, encodePreviewJpeg } from '@step1x/imaging';
import type { ObjectStore } from '@step1x/storage';
import type { EditPresenter } from '../edits/edit-presenter';
import type { EditsService } from '../edits/edits.service';
import { PollingEditProgressSource, type EditProgressEvent, type EditProgressSource } from './edit-progress-source';
import { EventStreamEditProgressSource } from './event-stream-progress-source';
import { editProgressSourceOf } from './openai.providers';
import { parseImageEditForm, seedFor, type ImageEditForm } from './image-edit-form';
import { editFailure, imageIdempotencyKey, OpenAiImageEditsService } from './image-edits.service';
import { ModelCatalog } from './model-catalog';
import { OpenAiRouteError, toOpenAiErrorResponse } from './openai-errors';
import { previewIntervalFor, takesPartialImage, usageOf } from './openai-images';

const catalog = ModelCatalog.fromConfig({
  openai: { modelId: 'step1x-edit-v1.1', syncTimeoutS: 300 },
  worker: { modelsDir: null } as AppConfig['worker'],
});
const image = { bytes: Buffer.from('png'), contentType: 'image/png' };
const form = (fields: Record<string, string | string[]>, images = [image]): ImageEditForm => ({
  fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  images,
});
const refusal = (code: string, param: string | null) => (error: unknown) => {
  assert.ok(error instanceof ApiError || error instanceof OpenAiRouteError, String(error));
  const { body } = toOpenAiErrorResponse(error);
  assert.deepEqual([body.error.code, body.error.param], [code, param], body.error.message);
  return true;
};

describe('POST /v1/images/edits form', () => {
  it('maps OpenAI fields onto an ordinary edit request, with defaults', () => {
    const request = parseImageEditForm(form({ prompt: 'make it snowy' }), catalog);
    assert.equal(request.n, 1);
    assert.equal(request.responseFormat, 'b64_json');
    assert.equal(request.stream, false);
    assert.equal(request.partialImages, 0);
    assert.equal(request.seed, null);
    assert.deepEqual(request.editRequest(0, null), {
      fields: {
        instruction: 'make it snowy',
        seed: null,
        steps: 28,
        guidance: 6,
        size_level: 512,
        output_format: 'png',
        webhook_url: null,
        webhook_events: ['started', 'progress', 'completed'],
        priority: 'interactive',
        previews: false,
        metadata: { openai: { n: 1, index: 0, user: null } },
      },
      image: { kind: 'upload' },
    });
  });

  it('takes the StepFun extras, the Python client’s empty fields and the OpenAI fields it ignores', () => {
    const request = parseImageEditForm(
      form({
        prompt: 'add a hat',
        model: 'step1x-edit-v1.1',
        n: '3',
        steps: '2',
        cfg_scale: '4.5',
        seed: '4294967295',
        output_format: 'webp',
        response_format: 'url',
        stream: 'true',
        partial_images: '2',
        user: 'u-1',
        quality: 'high',
        background: 'transparent',
        output_compression: '80',
        input_fidelity: 'low',
        mask_hint: '',
      }),
      catalog,
    );
    assert.deepEqual(
      [request.n, request.responseFormat, request.stream, request.partialImages, request.seed, request.outputFormat],
      [3, 'url', true, 2, 4294967295, 'webp'],
    );
    const second = request.editRequest(1, seedFor(4294967295, 1)).fields;
    assert.deepEqual(
      [second.steps, second.guidance, second.seed, second.metadata],
      [2, 4.5, 0, { openai: { n: 3, index: 1, user: 'u-1' } }],
    );
  });

  it('asks for previews only when streaming with partial images, at most partial_images before the last step', () => {
    const previews = (fields: Record<string, string>) =>
      parseImageEditForm(form({ prompt: 'x', ...fields }), catalog).editRequest(0, null).fields.previews;
    assert.equal(previews({ stream: 'true', partial_images: '2', steps: '10' }), 4);
    assert.equal(previews({ stream: 'true', partial_images: '3' }), 7, '28 steps by default');
    assert.equal(previews({ stream: 'true', partial_images: '0', steps: '10' }), false);
    assert.equal(previews({ stream: 'false', partial_images: '2', steps: '10' }), false, 'no extra cost unstreamed');
    assert.equal(previews({ partial_images: '3', steps: '10' }), false);
    const request = parseImageEditForm(form({ prompt: 'x', partial_images: '3' }), catalog);
    assert.equal(request.partialImages, 0);
  });

  it('maps `size` to the size level nearest by area; the output keeps the input size anyway', () => {
    const level = (size: string) => parseImageEditForm(form({ prompt: 'x', size }), catalog).editRequest(0, null);
    assert.equal(level('auto').fields.size_level, 512);
    assert.equal(level('256x256').fields.size_level, 512);
    assert.equal(level('800x800').fields.size_level, 768);
    assert.equal(level('1536x1024').fields.size_level, 1024);
    assert.throws(() => level('1024'), refusal('invalid_request', 'size'));
    assert.throws(() => level('0x10'), refusal('invalid_request', 'size'));
  });

  it('refuses with our codes and OpenAI’s field names', () => {
    const parse = (fields: Record<string, string | string[]>, images = [image]) =>
      parseImageEditForm(form(fields, images), catalog);
    assert.throws(() => parse({}), refusal('invalid_request', 'prompt'));
    assert.throws(() => parse({ prompt: ' ' }), refusal('invalid_request', 'prompt'));
    assert.throws(() => parse({ prompt: 'x'.repeat(2001) }), refusal('out_of_range', 'prompt'));
    assert.throws(() => parse({ prompt: 'x', cfg_scale: '0.5' }), refusal('out_of_range', 'cfg_scale'));
    assert.throws(() => parse({ prompt: 'x', steps: '101' }), refusal('out_of_range', 'steps'));
    assert.throws(() => parse({ prompt: 'x', seed: 'abc' }), refusal('invalid_request', 'seed'));
    assert.throws(() => parse({ prompt: 'x', n: '5' }), refusal('out_of_range', 'n'));
    assert.throws(() => parse({ prompt: 'x', n: '0' }), refusal('out_of_range', 'n'));
    assert.throws(() => parse({ prompt: 'x', partial_images: '4' }), refusal('out_of_range', 'partial_images'));
    assert.throws(() => parse({ prompt: 'x', response_format: 'png' }), refusal('invalid_request', 'response_format'));
    assert.throws(() => parse({ prompt: 'x', output_format: 'gif' }), refusal('invalid_request', 'output_format'));
    assert.throws(() => parse({ prompt: 'x', stream: 'yes' }), refusal('invalid_request', 'stream'));
    assert.throws(() => parse({ prompt: 'x', style: 'vivid' }), refusal('unknown_field', 'style'));
    assert.throws(() => parse({ prompt: ['x', 'y'] }), refusal('invalid_request', 'prompt'));
    assert.throws(() => parse({ prompt: 'x' }, []), refusal('invalid_request', 'image'));
    assert.throws(
      () => parse({ prompt: 'x', model: 'dall-e-2' }),
      (error: unknown) => {
        const { status, body } = toOpenAiErrorResponse(error);
        assert.deepEqual([status, body.error.code, body.error.type], [404, 'model_not_found', 'invalid_request_error']);
        return true;
      },
    );
  });

  it('wraps consecutive seeds inside 0 … 2³²−1 and keeps each image’s Idempotency-Key apart', () => {
    assert.equal(seedFor(7, 2), 9);
    assert.equal(seedFor(2 ** 32 - 1, 1), 0);
    assert.notEqual(imageIdempotencyKey('k', 0), imageIdempotencyKey('k', 1));
    assert.notEqual(imageIdempotencyKey('k', 0), 'k');
  });
});

describe('ModelCatalog', () => {
  it('lists OPENAI_MODEL_ID and resolves only it (or nothing given)', () => {
    assert.deepEqual(catalog.model, {
      id: 'step1x-edit-v1.1',
      object: 'model',
      created: 0,
      owned_by: 'step1x-edit-service',
    });
    assert.equal(catalog.resolve(undefined), catalog.model);
    assert.equal(catalog.resolve('gpt-image-1'), null);
    assert.deepEqual(catalog.sizeLevels, [512, 768, 1024]);
  });

  it('picks the nearest level by area, the smaller one on a tie', () => {
    const narrowed = new ModelCatalog(catalog.model, [512, 1024], 512);
    assert.equal(narrowed.nearestSizeLevel(900, 900), 1024);
    assert.equal(narrowed.nearestSizeLevel(768, 768), 512);
    assert.equal(narrowed.nearestSizeLevel(10, 10), 512);
    // 655,360 px lies exactly between 512² and 1024².
    assert.equal(narrowed.nearestSizeLevel(1280, 512), 512);
  });
});

describe('OpenAI error shape', () => {
  it('adds OpenAI’s type to our status, code, param and headers', () => {
    const cases: [unknown, number, string, string, Record<string, string>][] = [
      [new ApiError(ErrorCode.UnknownField, 'unknown field "x"', { param: 'x' }), 400, 'invalid_request_error', 'unknown_field', {}],
      [
        new ApiError(ErrorCode.Unauthorized, 'no', { headers: { 'WWW-Authenticate': 'Bearer' } }),
        401, 'authentication_error', 'unauthorized', { 'WWW-Authenticate': 'Bearer' },
      ],
      [
        new ApiError(ErrorCode.QueueFull, 'full', { headers: { 'Retry-After': '30' } }),
        429, 'rate_limit_error', 'queue_full', { 'Retry-After': '30' },
      ],
      [new ApiError(ErrorCode.IdempotencyConflict, 'no'), 409, 'invalid_request_error', 'idempotency_conflict', {}],
      [new Error('boom'), 500, 'server_error', 'internal_error', {}],
      [new OpenAiRouteError(504, 'edits_still_running', 'slow', { editIds: ['edit_1'] }), 504, 'server_error', 'edits_still_running', {}],
    ]; // prettier-ignore
    for (const [error, status, type, code, headers] of cases) {
      const response = toOpenAiErrorResponse(error);
      assert.deepEqual([response.status, response.body.error.type, response.body.error.code], [status, type, code]);
      assert.deepEqual(response.headers, headers);
      assert.equal(typeof response.body.error.message, 'string');
      assert.ok('param' in response.body.error);
    }
    assert.deepEqual(toOpenAiErrorResponse(cases[5][0]).body.error.edit_ids, ['edit_1']);
  });

  it('a failed edit carries its own code and status, a canceled one edit_canceled; neither is retried', () => {
    const failed = editFailure(
      record('edit_a', { status: 'failed', error: { code: 'model_numerics', message: 'NaN' } }),
      ['edit_a'],
    );
    assert.deepEqual(
      [failed.status, failed.code, failed.options.headers],
      [500, 'model_numerics', { 'x-should-retry': 'false' }],
    );
    const invalid = editFailure(
      record('edit_b', { status: 'failed', error: { code: 'invalid_image', message: 'x' } }),
      [],
    );
    assert.equal(invalid.status, 422);
    const canceled = editFailure(record('edit_c', { status: 'canceled' }), ['edit_c']);
    assert.deepEqual([canceled.status, canceled.code], [409, 'edit_canceled']);
  });
});

describe('partial images and usage', () => {
  it('spreads the wanted partial images over the run and never sends the last step as one', () => {
    const taken = (total: number, wanted: number) => {
      const steps: number[] = [];
      for (let step = 1; step <= total; step++) {
        if (takesPartialImage(step, total, steps.length, wanted)) steps.push(step);
      }
      return steps;
    };
    assert.deepEqual(taken(10, 2), [4, 7]);
    assert.deepEqual(taken(28, 3), [7, 14, 21]);
    assert.deepEqual(taken(10, 0), []);
    assert.deepEqual(taken(2, 3), [1]);
  });

  it('previews every previewIntervalFor(steps, k) steps give at most k partial images, all of them taken', () => {
    for (let steps = 1; steps <= 100; steps++) {
      for (let wanted = 1; wanted <= 3; wanted++) {
        const every = previewIntervalFor(steps, wanted);
        const before = [];
        for (let step = every; step < steps; step += every) before.push(step);
        assert.ok(before.length <= wanted, `${steps} steps, ${wanted} wanted: ${before.join(',')}`);
        const taken: number[] = [];
        for (const step of before) if (takesPartialImage(step, steps, taken.length, wanted)) taken.push(step);
        assert.deepEqual(taken, before, `${steps} steps, ${wanted} wanted`);
        if (steps >= 2) assert.ok(before.length >= 1, `${steps} steps, ${wanted} wanted: at least one comes`);
      }
    }
  });

  it('counts images, steps and output megapixels; OpenAI’s token fields are 0', () => {
    const usage = usageOf([record('edit_a', { status: 'succeeded' }), record('edit_b', { status: 'succeeded' })]);
    assert.deepEqual(usage, {
      input_tokens: 0,
      input_tokens_details: { text_tokens: 0, image_tokens: 0 },
      output_tokens: 0,
      total_tokens: 0,
      images: 2,
      steps: 4,
      output_megapixels: 0.0096,
    });
  });
});

describe('PollingEditProgressSource', () => {
  it('reads the record until it is terminal and yields it once', async () => {
    const statuses = ['queued', 'running', 'succeeded'] as const;
    let reads = 0;
    const source = new PollingEditProgressSource({
      get: async (id) => record(id, { status: statuses[Math.min(reads++, 2)] }),
    });
    const events: EditProgressEvent[] = [];
    for await (const event of source.follow('edit_a', new AbortController().signal)) events.push(event);
    assert.equal(reads, 3);
    assert.deepEqual(
      events.map((e) => [e.type, e.type === 'settled' ? e.record.status : null]),
      [['settled', 'succeeded']],
    );
  });

  it('ends without an event when the signal aborts', async () => {
    const source = new PollingEditProgressSource({ get: async (id) => record(id, { status: 'running' }) });
    const events: EditProgressEvent[] = [];
    for await (const event of source.follow('edit_a', AbortSignal.timeout(50))) events.push(event);
    assert.deepEqual(events, []);
  });
});

describe('EventStreamEditProgressSource', () => {
  const previewBody = (step: number) =>
    JSON.stringify({
      type: 'edit.preview',
      timestamp: 'T',
      data: { id: 'edit_a', step, total: 6, url: 'http://s3/x', expires_at: 'T' },
    });
  const events = (...types: [string, string][]): StoredEditEvent[] =>
    types.map(([type, data], i) => ({ id: `1-${i}`, type, data }));
  /** The record reads `running` until the stream's end is reached, then `succeeded` (as the worker writes it). */
  const setup = (stream: Pick<EditEventStream, 'follow'>, stored: Map<string, Buffer>) => {
    let done = false;
    const reads: string[] = [];
    const source = new EventStreamEditProgressSource(
      {
        async *follow(editId, options) {
          for await (const event of stream.follow(editId, options)) {
            if (event.type === 'edit.completed') done = true;
            yield event;
          }
        },
      },
      { get: async (id) => record(id, { status: done ? 'succeeded' : 'running' }) },
      {
        get: async (key: string) => {
          reads.push(key);
          const bytes = stored.get(key);
          if (!bytes) throw new Error('NoSuchKey');
          return { body: Readable.from([bytes]) };
        },
      } as unknown as ObjectStore,
      new PollingEditProgressSource({ get: async (id) => record(id, { status: 'succeeded' }) }),
    );
    return { source, reads };
  };
  const collect = async (source: EditProgressSource) => {
    const out: EditProgressEvent[] = [];
    for await (const event of source.follow('edit_a', new AbortController().signal)) out.push(event);
    return out;
  };

  it('yields each edit.preview with its JPEG from the object store, skips an unreadable one, then the settled record', async () => {
    const stored = new Map([
      ['previews/acme/edit_a/2.jpg', Buffer.from('jpeg 2')],
      ['previews/acme/edit_a/6.jpg', Buffer.from('jpeg 6')],
    ]);
    const { source, reads } = setup(
      {
        async *follow() {
          yield* events(
            ['edit.started', '{}'],
            ['edit.preview', previewBody(2)],
            ['edit.progress', '{}'],
            ['edit.preview', previewBody(4)],
            ['edit.preview', previewBody(6)],
            ['edit.completed', '{}'],
          );
        },
      },
      stored,
    );
    const out = await collect(source);
    assert.deepEqual(reads, ['previews/acme/edit_a/2.jpg', 'previews/acme/edit_a/4.jpg', 'previews/acme/edit_a/6.jpg']);
    assert.deepEqual(
      out.map((e) => (e.type === 'preview' ? [e.step, e.total, Buffer.from(e.jpeg).toString()] : [e.record.status])),
      [[2, 6, 'jpeg 2'], [6, 6, 'jpeg 6'], ['succeeded']],
    );
  });

  it('falls back to polling the record when the event stream fails', async () => {
    const { source } = setup(
      {
        async *follow() {
          throw new Error('Redis connection lost');
        },
      },
      new Map(),
    );
    const out = await collect(source);
    assert.deepEqual(
      out.map((e) => e.type === 'settled' && e.record.status),
      ['succeeded'],
    );
  });

  it('answers an edit already terminal without following its events', async () => {
    let followed = false;
    const source = new EventStreamEditProgressSource(
      {
        async *follow() {
          followed = true;
        },
      },
      { get: async (id) => record(id, { status: 'failed' }) },
      {} as ObjectStore,
      new PollingEditProgressSource({ get: async (id) => record(id, { status: 'failed' }) }),
    );
    const out = await collect(source);
    assert.deepEqual([followed, out.map((e) => e.type === 'settled' && e.record.status)], [false, ['failed']]);
  });

  it('picks polling when the deps have no event stream', () => {
    const edits = {} as EditRepository;
    assert.ok(editProgressSourceOf(edits, null, {} as ObjectStore) instanceof PollingEditProgressSource);
    const stream = {} as EditEventStream;
    assert.ok(editProgressSourceOf(edits, stream, {} as ObjectStore) instanceof EventStreamEditProgressSource);
  });
});

describe('stream: true through the openai client’s own SSE decoder', () => {
  /** A progress source that replays a script of events per edit (stands in for the previews' event stream). */
  const scripted = (script: Record<string, EditProgressEvent[]>): EditProgressSource => ({
    async *follow(editId) {
      for (const event of script[editId]) yield event;
    },
  });
  const service = (progress: EditProgressSource) =>
    new OpenAiImageEditsService(
      {} as EditsService,
      {} as EditPresenter,
      { get: async () => ({ body: Readable.from([Buffer.from('final image')]) }) } as unknown as ObjectStore,
      progress,
      { openai: { syncTimeoutS: 5, modelId: 'm' } } as AppConfig,
      () => new Date(1_900_000_000_000),
    );
  const request = parseImageEditForm(form({ prompt: 'x', stream: 'true', partial_images: '2' }), catalog);
  const decode = async (body: Readable) => {
    const response = new Response(Readable.toWeb(body) as ReadableStream, {
      headers: { 'content-type': 'text/event-stream' },
    });
    const events: ImageEditStreamEvent[] = [];
    for await (const event of Stream.fromSSEResponse<ImageEditStreamEvent>(response, new AbortController())) {
      events.push(event);
    }
    return events;
  };
  const preview = async (step: number): Promise<EditProgressEvent> => ({ type: 'preview', step, total: 10, jpeg: await jpegOf(step) });

  it('sends the chosen previews as image_edit.partial_image, then image_edit.completed', async () => {
    const progress = scripted({
      edit_a: [...(await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].map(preview))), { type: 'settled', record: record('edit_a', { status: 'succeeded' }) }],
    });
    const events = await decode(service(progress).stream(request, [editObject('edit_a')], false, new AbortController().signal));
    assert.deepEqual(
      events.map((e) => [e.type, e.type === 'image_edit.partial_image' ? e.partial_image_index : null]),
      [['image_edit.partial_image', 0], ['image_edit.partial_image', 1], ['image_edit.completed', null]],
    );
    const [first, second, completed] = events;
    // Previews 4 and 7, re-encoded in the requested format (png), at the preview's own size.
    const firstImage = await decodeImage(Buffer.from(first.b64_json, 'base64'));
    assert.equal(Buffer.from(first.b64_json, 'base64').subarray(1, 4).toString(), 'PNG');
    assert.deepEqual([firstImage.width, firstImage.height], [32, 24]);
    assert.ok(Math.abs(firstImage.data[0] - 40) <= 3, String(firstImage.data[0]));
    assert.ok(Math.abs((await decodeImage(Buffer.from(second.b64_json, 'base64'))).data[0] - 70) <= 3);
    assert.deepEqual([first.output_format, first.size], ['png', '32x24']);
    assert.equal(Buffer.from(completed.b64_json, 'base64').toString(), 'final image');
    assert.deepEqual([completed.size, completed.created_at, completed.output_format], ['80x60', 1_900_000_000, 'png']);
  });

  it('sends a jpeg preview as it is when output_format is jpeg; skips one that does not decode', async () => {
    const jpeg = parseImageEditForm(form({ prompt: 'x', stream: 'true', partial_images: '2', output_format: 'jpeg' }), catalog);
    const four = await jpegOf(4);
    const progress = scripted({
      edit_a: [{ type: 'preview', step: 4, total: 10, jpeg: Buffer.from('not a jpeg') }, { type: 'preview', step: 7, total: 10, jpeg: four }, { type: 'settled', record: record('edit_a', { status: 'succeeded' }) }],
    });
    const events = await decode(service(progress).stream(jpeg, [editObject('edit_a')], false, new AbortController().signal));
    assert.deepEqual(events.map((e) => e.type), ['image_edit.partial_image', 'image_edit.completed']);
    assert.deepEqual(Buffer.from(events[0].b64_json, 'base64'), four);
    assert.equal(events[0].output_format, 'jpeg');
  });

  it('a failed edit ends the stream with an error event the client raises as APIError', async () => {
    const failed = record('edit_a', { status: 'failed', error: { code: 'model_numerics', message: 'NaN in the DiT' } });
    const progress = scripted({ edit_a: [{ type: 'settled', record: failed }] });
    const error = await decode(service(progress).stream(request, [editObject('edit_a')], false, new AbortController().signal)).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof APIError, String(error));
    assert.equal((error.error as { code: string }).code, 'model_numerics');
  });
}); // prettier-ignore

/** A 32×24 preview JPEG whose every pixel is grey 10·step. */
async function jpegOf(step: number): Promise<Buffer> {
  return encodePreviewJpeg({ width: 32, height: 24, data: new Uint8Array(32 * 24 * 3).fill(10 * step) });
}

function record(id: string, overrides: Partial<EditRecord>): EditRecord {
  return {
    id,
    tenantId: 'acme',
    status: 'queued',
    createdAt: '2030-01-01T00:00:00.000Z',
    startedAt: null,
    completedAt: null,
    progress: { step: 0, total: 2 },
    attempts: 0,
    cancelRequested: false,
    input: {
      instruction: 'x',
      seed: 1,
      steps: 2,
      guidance: 6,
      size_level: 512,
      output_format: 'png',
      priority: 'interactive',
      width: 80,
      height: 60,
      truncated: null,
    },
    inputKey: `inputs/acme/${id}`,
    output:
      overrides.status === 'succeeded'
        ? { key: `outputs/acme/${id}.png`, width: 80, height: 60, format: 'png', seed: 1 }
        : null,
    error: null,
    metadata: null,
    webhook: null,
    ...overrides,
  };
}

function editObject(id: string): EditObject {
  return { id, input: record(id, {}).input } as EditObject;
}
