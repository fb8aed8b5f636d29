import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  NonRetryableJobError,
  type DeliverWebhookPayload,
  type EditRecord,
  type WebhookEvent,
} from '@step1x/contracts';
import { type EditPatch, type EditTransition, type TransitionResult } from '@step1x/edit-store';
import { JOB_ABORT_CANCELED, JOB_ABORT_SHUTDOWN, type JobContext } from '@step1x/job-queue';
import { ObjectNotFoundError } from '@step1x/storage';
import { EditRunner, outputKeyOf, type EditRunStore } from './edit-runner.service';
import { EditWebhooks } from './edit-webhooks';
import { EditorPool } from './editor-pool';
import { EditAbortedError, EditInputError, type ImageEditor, type ImageEditRequest } from './image-editor.port';
import { classifyPipelineError } from './pipeline-image-editor';
import { ImageInputError } from '@step1x/imaging';
import { EditRequestError, ModelNumericsError } from '@step1x/pipeline';

function recordOf(overrides: Partial<EditRecord> = {}): EditRecord {
  return {
    id: 'edit_01JTESTTESTTESTTESTTESTTES',
    tenantId: 'acme',
    status: 'queued',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    completedAt: null,
    progress: { step: 0, total: 4 },
    attempts: 0,
    cancelRequested: false,
    input: {
      instruction: 'make it blue',
      seed: 7,
      steps: 4,
      guidance: 6,
      size_level: 512,
      output_format: 'png',
      priority: 'interactive',
      width: 30,
      height: 20,
      truncated: null,
    },
    inputKey: 'inputs/acme/edit_01JTESTTESTTESTTESTTESTTES',
    output: null,
    error: null,
    metadata: null,
    webhook: { url: 'http://127.0.0.2:9/hook', events: ['started', 'progress', 'completed'] },
    ...overrides,
  };
}

/** Compare-and-set like the Redis script, over one in-memory record. */
class MemoryEdits implements EditRunStore {
  progressWrites = 0;
  constructor(public record: EditRecord) {}

  async get(): Promise<EditRecord | null> {
    return structuredClone(this.record);
  }
  async transition(_id: string, t: EditTransition): Promise<TransitionResult> {
    if (!t.from.includes(this.record.status)) return { applied: false, record: structuredClone(this.record) };
    const { truncated, ...set } = t.set as EditPatch;
    Object.assign(this.record, set);
    if (truncated !== undefined) this.record.input.truncated = truncated;
    if (t.setIfNull?.startedAt && this.record.startedAt === null) this.record.startedAt = t.setIfNull.startedAt;
    return { applied: true, record: structuredClone(this.record) };
  }
  markRunning(id: string, attempt: number, at: Date) {
    return this.transition(id, {
      from: ['queued', 'running'],
      set: { status: 'running', attempts: attempt },
      setIfNull: { startedAt: at.toISOString() },
    });
  }
  updateProgress(id: string, progress: { step: number; total: number }) {
    this.progressWrites++;
    return this.transition(id, { from: ['running'], set: { progress } });
  }
  markFailed(id: string, error: { code: string; message: string }, at: Date) {
    return this.transition(id, {
      from: ['queued', 'running'],
      set: { status: 'failed', error, completedAt: at.toISOString() },
    });
  }
  markCanceled(id: string, at: Date) {
    return this.transition(id, {
      from: ['queued', 'running'],
      set: { status: 'canceled', completedAt: at.toISOString() },
    });
  }
}

/** Walks the steps like the pipeline: stops at a step boundary once the signal is aborted. */
class ScriptedEditor implements ImageEditor {
  calls = 0;
  constructor(
    private readonly beforeStep: (step: number) => void | Promise<void> = () => undefined,
    private readonly randomWeights = false,
  ) {}
  async edit(request: ImageEditRequest) {
    this.calls++;
    for (let step = 1; step <= request.steps; step++) {
      if (request.signal.aborted) throw new EditAbortedError();
      await this.beforeStep(step);
      request.onProgress(step, request.steps);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { randomWeights } = this;
    return {
      bytes: Buffer.from('png-bytes'),
      contentType: 'image/png',
      width: 30,
      height: 20,
      truncated: true,
      randomWeights,
    };
  }
  async release() {}
}

function harness(
  record: EditRecord,
  editor: ImageEditor,
  stored: Map<string, Buffer> = new Map(),
  afterPut: (key: string) => void = () => undefined,
  storedMetadata: Map<string, Record<string, string>> = new Map(),
) {
  if (!stored.has(record.inputKey)) stored.set(record.inputKey, Buffer.from('input'));
  let puts = 0;
  const edits = new MemoryEdits(record);
  const queued: DeliverWebhookPayload[] = [];
  let nowMs = Date.parse('2026-01-01T00:00:10.000Z');
  const clock = () => new Date((nowMs += 400));
  const objects = {
    async get(key: string) {
      const bytes = stored.get(key);
      if (!bytes) throw new ObjectNotFoundError(key);
      return {
        key,
        etag: null,
        size: bytes.length,
        contentType: null,
        lastModified: new Date(),
        metadata: {},
        body: Readable.from([bytes]),
      };
    },
    async put(key: string, body: Buffer | Uint8Array | Readable, options: { metadata?: Record<string, string> }) {
      puts++;
      stored.set(key, body as Buffer);
      storedMetadata.set(key, { ...options.metadata });
      afterPut(key);
      return { key, etag: null, size: (body as Buffer).length };
    },
    async head(key: string) {
      const bytes = stored.get(key);
      if (!bytes) return null;
      const metadata = storedMetadata.get(key) ?? {};
      return { key, etag: null, size: bytes.length, contentType: null, lastModified: new Date(), metadata };
    },
    async delete(key: string) {
      stored.delete(key);
    },
  };
  const webhooks = new EditWebhooks(
    { enqueueWebhook: async (payload) => void queued.push(payload) },
    { presignGet: async (key) => ({ url: `http://s3.test/${key}?sig`, expiresAt: new Date(nowMs + 3600_000) }) },
    { outputUrlTtlS: 3600, clock },
  );
  const runner = new EditRunner(edits, objects, new EditorPool([editor]), webhooks, {
    maxInputBytes: 1024,
    progressMinIntervalMs: 1000,
    clock,
  });
  const events = () => queued.map((p) => JSON.parse(p.body) as WebhookEvent);
  return { edits, queued, events, runner, stored, storedMetadata, puts: () => puts };
}

function contextOf(attempt = 1, maxAttempts = 3, controller = new AbortController()): JobContext {
  return { jobId: 'job', attempt, maxAttempts, signal: controller.signal, reportProgress: async () => undefined };
}

/** An editor whose every edit throws `error` (the classified error a real pipeline would raise). */
function editorThrowing(error: unknown): ImageEditor {
  return {
    edit: async () => {
      throw error;
    },
    release: async () => undefined,
  };
}

describe('EditRunner', () => {
  it('runs a queued edit to succeeded: deterministic output key, per-step progress, throttled webhooks', async () => {
    const h = harness(recordOf(), new ScriptedEditor());
    assert.equal(await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()), 'succeeded');
    const key = outputKeyOf('acme', h.edits.record.id, 'png');
    assert.equal(key, `outputs/acme/${h.edits.record.id}.png`);
    assert.deepEqual(h.stored.get(key), Buffer.from('png-bytes'));
    assert.equal(h.edits.record.status, 'succeeded');
    assert.deepEqual(h.edits.record.output, {
      key,
      width: 30,
      height: 20,
      format: 'png',
      seed: 7,
    });
    assert.equal(h.edits.record.input.truncated, true);
    assert.equal(h.edits.progressWrites, 4);
    assert.deepEqual(h.edits.record.progress, { step: 4, total: 4 });
    const types = h.events().map((e) => e.type);
    assert.equal(types[0], 'edit.started');
    assert.equal(types.at(-1), 'edit.completed');
    const progress = h.events().filter((e) => e.type === 'edit.progress');
    assert.ok(progress.length >= 1 && progress.length < 4, `throttled: ${progress.length} of 4 steps`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(Date.parse(progress[i].timestamp) - Date.parse(progress[i - 1].timestamp) >= 1000);
    }
    const completed = h.events().at(-1)!;
    assert.equal(completed.data.status, 'succeeded');
    assert.match(completed.data.output!.url, /^http:\/\/s3\.test\/outputs\/acme\//);
    assert.equal(completed.data.output!.random_weights, false);
    assert.equal(new Set(h.queued.map((p) => p.messageId)).size, h.queued.length, 'one webhook-id per event');
  });

  it('records an output of random-weight models as such, and the completed event shows random_weights', async () => {
    const h = harness(recordOf(), new ScriptedEditor(undefined, true));
    assert.equal(await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()), 'succeeded');
    assert.equal(h.edits.record.output?.randomWeights, true);
    assert.equal(h.events().at(-1)!.data.output!.random_weights, true);
  });

  it('sends only the events the edit asked for (completed always)', async () => {
    const h = harness(
      recordOf({ webhook: { url: 'http://127.0.0.2:9/h', events: ['completed'] } }),
      new ScriptedEditor(),
    );
    await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf());
    assert.deepEqual(
      h.events().map((e) => e.type),
      ['edit.completed'],
    );
  });

  it('stops at the next step on a fanned-out cancel: canceled, with edit.completed status canceled', async () => {
    const controller = new AbortController();
    const editor = new ScriptedEditor((step) => {
      if (step === 2) controller.abort(JOB_ABORT_CANCELED);
    });
    const h = harness(recordOf(), editor);
    const outcome = await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf(1, 3, controller));
    assert.equal(outcome, 'canceled');
    assert.equal(h.edits.record.status, 'canceled');
    assert.ok(h.edits.record.progress.step < 4);
    const completed = h.events().at(-1)!;
    assert.equal(completed.type, 'edit.completed');
    assert.equal(completed.data.status, 'canceled');
  });

  it('also stops when the record says cancel_requested (a cancel published before it subscribed)', async () => {
    const h = harness(
      recordOf(),
      new ScriptedEditor((step) => {
        if (step === 2) h.edits.record.cancelRequested = true;
      }),
    );
    assert.equal(await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()), 'canceled');
    assert.equal(h.edits.record.status, 'canceled');
  });

  it('cancels at once, without running, an edit whose cancel was requested before it started', async () => {
    const editor = new ScriptedEditor();
    const h = harness(recordOf({ cancelRequested: true }), editor);
    assert.equal(await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()), 'canceled');
    assert.equal(editor.calls, 0);
  });

  it('does not run an edit that is already finished or gone', async () => {
    const editor = new ScriptedEditor();
    const h = harness(recordOf({ status: 'canceled' }), editor);
    assert.equal(await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()), 'skipped');
    assert.equal(editor.calls, 0);
    assert.equal(h.queued.length, 0);
  });

  it('announces the start once: a stalled edit taken over while running sends no second edit.started', async () => {
    const h = harness(recordOf({ status: 'running', startedAt: '2026-01-01T00:00:05.000Z' }), new ScriptedEditor());
    await h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf());
    assert.equal(h.events().filter((e) => e.type === 'edit.started').length, 0);
    assert.equal(h.edits.record.startedAt, '2026-01-01T00:00:05.000Z');
  });

  it('records, without re-running or writing again, the output a worker wrote before dying', async () => {
    const record = recordOf({ status: 'running', startedAt: '2026-01-01T00:00:05.000Z', attempts: 1 });
    const key = outputKeyOf('acme', record.id, 'png');
    const editor = new ScriptedEditor();
    const h = harness(
      record,
      editor,
      new Map([[key, Buffer.from('png-bytes')]]),
      undefined,
      new Map([
        [
          key,
          { tenant: 'acme', edit: record.id, width: '30', height: '20', truncated: 'true', random_weights: 'true' },
        ],
      ]),
    );
    assert.equal(await h.runner.run({ editId: record.id, tenantId: 'acme' }, contextOf(2)), 'succeeded');
    assert.equal(editor.calls, 0, 'not run again');
    assert.equal(h.puts(), 0, 'not written again');
    assert.equal(h.edits.record.status, 'succeeded');
    assert.deepEqual(h.edits.record.output, {
      key,
      width: 30,
      height: 20,
      format: 'png',
      seed: 7,
      randomWeights: true,
    });
    assert.equal(h.edits.record.input.truncated, true);
    assert.deepEqual(
      h.events().map((e) => e.type),
      ['edit.completed'],
    );
  });

  it('runs a taken-over edit again when no usable output was written (none, or without size metadata)', async () => {
    const record = recordOf({ status: 'running', startedAt: '2026-01-01T00:00:05.000Z' });
    const key = outputKeyOf('acme', record.id, 'png');
    for (const metadata of [null, { tenant: 'acme', edit: record.id }]) {
      const editor = new ScriptedEditor();
      const h = harness(
        structuredClone(record),
        editor,
        metadata ? new Map([[key, Buffer.from('old')]]) : new Map(),
        undefined,
        metadata ? new Map([[key, metadata]]) : new Map(),
      );
      assert.equal(await h.runner.run({ editId: record.id, tenantId: 'acme' }, contextOf(2)), 'succeeded');
      assert.equal(editor.calls, 1);
      assert.equal(h.puts(), 1);
      assert.deepEqual(h.storedMetadata.get(key), {
        tenant: 'acme',
        edit: record.id,
        width: '30',
        height: '20',
        truncated: 'true',
        random_weights: 'false',
      });
    }
  });

  it('fails bad input without a retry: NonRetryableJobError with the code, failed record, edit.completed', async () => {
    const editor = editorThrowing(new EditInputError('invalid_image', 'cannot decode'));
    const h = harness(recordOf(), editor);
    await assert.rejects(
      h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()),
      (error: unknown) => error instanceof NonRetryableJobError && error.code === 'invalid_image',
    );
    assert.equal(h.edits.record.status, 'failed');
    assert.deepEqual(h.edits.record.error, { code: 'invalid_image', message: 'cannot decode' });
    assert.equal(h.events().at(-1)!.data.status, 'failed');
  });

  it('fails an edit whose models produced NaN/Inf with model_numerics, without a retry (not infrastructure)', async () => {
    const editor = editorThrowing(classifyPipelineError(new ModelNumericsError('vae_decoder', 3, NaN, 12)));
    const h = harness(recordOf(), editor);
    await assert.rejects(
      h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf()),
      (error: unknown) => error instanceof NonRetryableJobError && error.code === 'model_numerics',
    );
    assert.equal(h.edits.record.status, 'failed');
    assert.equal(h.edits.record.error?.code, 'model_numerics');
    assert.match(
      h.edits.record.error?.message ?? '',
      /non-finite output \(NaN at element 3 of 12\) from the VAE decoder/,
    );
    assert.equal(h.edits.record.output, null);
    assert.equal(h.events().at(-1)!.data.status, 'failed');
  });

  it('classifies the pipeline refusals with the contract codes: request, image format, numerics', () => {
    const cases: [unknown, string][] = [
      [new EditRequestError('out_of_range', 'size_level', 'size_level: must be one of 512, 768, 1024'), 'out_of_range'],
      [new ImageInputError('image_format_unsupported', 'svg'), 'unsupported_media_type'],
      [new ImageInputError('image_too_large', 'big'), 'image_too_large'],
      [new ModelNumericsError('mllm', 0, Infinity, 4), 'model_numerics'],
    ];
    for (const [error, code] of cases) {
      const classified = classifyPipelineError(error);
      assert.ok(classified instanceof EditInputError, String(error));
      assert.equal(classified.code, code);
    }
    const infrastructure = new Error('ECONNRESET');
    assert.equal(classifyPipelineError(infrastructure), infrastructure);
  });

  it('treats a vanished input object as bad input', async () => {
    const record = recordOf();
    const h = harness(record, new ScriptedEditor());
    h.stored.delete(record.inputKey);
    await assert.rejects(h.runner.run({ editId: record.id, tenantId: 'acme' }, contextOf()), NonRetryableJobError);
    assert.equal(h.edits.record.error?.code, 'input_not_found');
  });

  it('rethrows infrastructure errors for a retry (record back to queued) and fails on the last attempt', async () => {
    const broken = editorThrowing(new Error('GPU fell off the bus'));
    const h = harness(recordOf(), broken);
    await assert.rejects(h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf(1, 2)), /GPU fell/);
    assert.equal(h.edits.record.status, 'queued');
    assert.deepEqual(h.edits.record.progress, { step: 0, total: 4 });
    await assert.rejects(h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf(2, 2)), /GPU fell/);
    assert.equal(h.edits.record.status, 'failed');
    assert.equal(h.edits.record.error?.code, 'internal_error');
    assert.equal(h.edits.record.attempts, 2);
    assert.doesNotMatch(h.edits.record.error?.message ?? '', /GPU/, 'internals stay in the log');
  });

  it('fails an edit whose job the queue gave up on (stalled too often), and only an unfinished one', async () => {
    const h = harness(recordOf({ status: 'running' }), new ScriptedEditor());
    assert.equal(await h.runner.failAbandoned(h.edits.record.id, 'job stalled more than allowable limit'), true);
    assert.equal(h.edits.record.status, 'failed');
    assert.equal(h.edits.record.error?.code, 'internal_error');
    assert.equal(h.events().at(-1)?.data.status, 'failed');
    assert.equal(await h.runner.failAbandoned(h.edits.record.id, 'again'), false);
    assert.equal(h.events().length, 1, 'one edit.completed');
  });

  it('removes an output it wrote but could not record (the edit was canceled between the write and the record)', async () => {
    const record = recordOf();
    const key = outputKeyOf('acme', record.id, 'png');
    const h = harness(record, new ScriptedEditor(), new Map(), (written) => {
      if (written === key) h.edits.record.status = 'canceled';
    });
    assert.equal(await h.runner.run({ editId: record.id, tenantId: 'acme' }, contextOf()), 'skipped');
    assert.equal(h.stored.has(key), false, 'no orphan output left behind');
    assert.equal(h.edits.record.output, null);
    assert.equal(h.events().filter((e) => e.type === 'edit.completed').length, 0);
  });

  it('keeps the output when another run of the same edit recorded that very object first', async () => {
    const record = recordOf();
    const key = outputKeyOf('acme', record.id, 'png');
    const recorded = { key, width: 30, height: 20, format: 'png' as const, seed: 7 };
    const h = harness(record, new ScriptedEditor(), new Map(), (written) => {
      if (written === key) Object.assign(h.edits.record, { status: 'succeeded', output: recorded });
    });
    assert.equal(await h.runner.run({ editId: record.id, tenantId: 'acme' }, contextOf()), 'skipped');
    assert.deepEqual(h.stored.get(key), Buffer.from('png-bytes'));
  });

  it('hands the edit back to the queue when shutdown aborts it', async () => {
    const controller = new AbortController();
    const h = harness(
      recordOf(),
      new ScriptedEditor((step) => void (step === 2 && controller.abort(JOB_ABORT_SHUTDOWN))),
    );
    await assert.rejects(
      h.runner.run({ editId: h.edits.record.id, tenantId: 'acme' }, contextOf(1, 3, controller)),
      EditAbortedError,
    );
    assert.equal(h.edits.record.status, 'queued');
    assert.equal(h.events().filter((e) => e.type === 'edit.completed').length, 0);
  });
});
