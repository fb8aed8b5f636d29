import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DeliverWebhookPayload, EditRecord } from '@step1x/contracts';
import type { EditTransition, TransitionResult } from '@step1x/edit-store';
import type { JobContext } from '@step1x/job-queue';
import { EditRunner, type EditRunStore } from './edit-runner.service';
import { previewKeyOf } from './edit-previews';
import { EditWebhooks } from './edit-webhooks';
import { EditorPool } from './editor-pool';
import type { ImageEditor, ImageEditRequest } from './image-editor.port';

const EDIT_ID = 'edit_01JTESTTESTTESTTESTTESTTES';

function recordOf(overrides: Partial<EditRecord> = {}, previews: boolean | number = false): EditRecord {
  return {
    id: EDIT_ID,
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
      previews,
    },
    inputKey: `inputs/acme/${EDIT_ID}`,
    output: null,
    error: null,
    metadata: null,
    webhook: null,
    ...overrides,
  };
}

interface Appended {
  editId: string;
  type: string;
  data: string;
}

function webhooksWith(appended: Appended[], queued: DeliverWebhookPayload[], failAppend = false) {
  return new EditWebhooks(
    { enqueueWebhook: async (payload) => void queued.push(payload) },
    { presignGet: async (key) => ({ url: `http://s3.test/${key}?sig`, expiresAt: new Date(0) }) },
    {
      outputUrlTtlS: 3600,
      eventLog: {
        append: async (editId, type, data) => {
          if (failAppend) throw new Error('Connection is closed.');
          appended.push({ editId, type, data });
          return `${appended.length}-0`;
        },
      },
    },
  );
}

describe('EditWebhooks: every event goes to the edit event log', () => {
  it('appends even without a webhook; queues a webhook only for the types the edit asked for', async () => {
    const appended: Appended[] = [];
    const queued: DeliverWebhookPayload[] = [];
    const webhooks = webhooksWith(appended, queued);
    await webhooks.emit(recordOf({ status: 'running' }), 'edit.started');
    await webhooks.emit(
      recordOf({ status: 'running', webhook: { url: 'http://h/', events: ['completed'] } }),
      'edit.progress',
    );
    await webhooks.emitPreview(recordOf({ webhook: { url: 'http://h/', events: ['completed', 'preview'] } }), {
      step: 2,
      total: 4,
      key: previewKeyOf('acme', EDIT_ID, 2),
    });
    assert.deepEqual(
      appended.map((a) => a.type),
      ['edit.started', 'edit.progress', 'edit.preview'],
    );
    assert.deepEqual(
      queued.map((q) => q.type),
      ['edit.preview'],
    );
    assert.equal(queued[0].body, appended[2].data, 'the same body on both paths');
    const preview = JSON.parse(appended[2].data) as { type: string; data: Record<string, unknown> };
    assert.deepEqual(preview.data, {
      id: EDIT_ID,
      step: 2,
      total: 4,
      url: `http://s3.test/previews/acme/${EDIT_ID}/2.jpg?sig`,
      expires_at: new Date(0).toISOString(),
    });
  });

  it('a failed append still queues the webhook, then reports the failure', async () => {
    const queued: DeliverWebhookPayload[] = [];
    const webhooks = webhooksWith([], queued, true);
    const record = recordOf({ status: 'canceled', webhook: { url: 'http://h/', events: ['completed'] } });
    await assert.rejects(webhooks.emit(record, 'edit.completed'), /Connection is closed/);
    assert.equal(queued.length, 1);
  });
});

/** Compare-and-set over one in-memory record (enough for a run). */
class MemoryEdits implements EditRunStore {
  constructor(public record: EditRecord) {}
  async get() {
    return structuredClone(this.record);
  }
  async transition(_id: string, t: EditTransition): Promise<TransitionResult> {
    if (!t.from.includes(this.record.status)) return { applied: false, record: structuredClone(this.record) };
    const { truncated: _truncated, ...set } = t.set;
    Object.assign(this.record, set);
    return { applied: true, record: structuredClone(this.record) };
  }
  markRunning(id: string, attempt: number) {
    return this.transition(id, { from: ['queued', 'running'], set: { status: 'running', attempts: attempt } });
  }
  updateProgress(id: string, progress: { step: number; total: number }) {
    return this.transition(id, { from: ['running'], set: { progress } });
  }
  markFailed(id: string, error: { code: string; message: string }) {
    return this.transition(id, { from: ['queued', 'running'], set: { status: 'failed', error } });
  }
  markCanceled(id: string) {
    return this.transition(id, { from: ['queued', 'running'], set: { status: 'canceled' } });
  }
}

/** Walks the steps like the pipeline and hands a 40×30 preview over at every `every`-th step. */
const previewingEditor: ImageEditor = {
  async edit(request: ImageEditRequest) {
    for (let step = 1; step <= request.steps; step++) {
      request.onProgress(step, request.steps);
      if (request.previews && step % request.previews.every === 0) {
        request.previews.onPreview(step, request.steps, { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3) });
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return {
      bytes: Buffer.from('png'),
      contentType: 'image/png',
      width: 30,
      height: 20,
      truncated: false,
      randomWeights: false,
    };
  },
  async release() {},
};

function runnerFor(record: EditRecord, failPreviewPuts: boolean) {
  const appended: Appended[] = [];
  const stored = new Map<string, Buffer>([[record.inputKey, Buffer.from('input')]]);
  const objects = {
    async get(key: string) {
      const bytes = stored.get(key) as Buffer;
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
    async put(key: string, body: Buffer | Uint8Array | Readable) {
      if (failPreviewPuts && key.startsWith('previews/')) throw new Error('S3 said 503');
      stored.set(key, body as Buffer);
      return { key, etag: null, size: (body as Buffer).length };
    },
    head: async () => null,
    delete: async () => undefined,
  };
  const edits = new MemoryEdits(record);
  const runner = new EditRunner(edits, objects, new EditorPool([previewingEditor]), webhooksWith(appended, []), {
    maxInputBytes: 1024,
    progressMinIntervalMs: 0,
  });
  return { runner, edits, appended, stored };
}

const context: JobContext = {
  jobId: 'job',
  attempt: 1,
  maxAttempts: 3,
  signal: new AbortController().signal,
  reportProgress: async () => undefined,
};

describe('EditRunner: step previews', () => {
  it('stores a JPEG per k steps and announces it before edit.completed; none when previews are off', async () => {
    const on = runnerFor(recordOf({}, 2), false);
    assert.equal(await on.runner.run({ editId: EDIT_ID, tenantId: 'acme' }, context), 'succeeded');
    const types = on.appended.map((a) => a.type);
    assert.deepEqual(
      types.filter((t) => t === 'edit.preview' || t === 'edit.completed'),
      ['edit.preview', 'edit.preview', 'edit.completed'],
    );
    for (const step of [2, 4]) {
      const jpeg = on.stored.get(previewKeyOf('acme', EDIT_ID, step));
      assert.ok(jpeg && jpeg[0] === 0xff && jpeg[1] === 0xd8, `a JPEG at step ${step}`);
    }
    const off = runnerFor(recordOf(), false);
    assert.equal(await off.runner.run({ editId: EDIT_ID, tenantId: 'acme' }, context), 'succeeded');
    assert.ok(!off.appended.some((a) => a.type === 'edit.preview'));
    assert.ok(![...off.stored.keys()].some((key) => key.startsWith('previews/')));
  });

  it('a preview that cannot be stored is dropped; the edit still succeeds', async () => {
    const h = runnerFor(recordOf({}, true), true);
    assert.equal(await h.runner.run({ editId: EDIT_ID, tenantId: 'acme' }, context), 'succeeded');
    assert.equal(h.edits.record.status, 'succeeded');
    assert.ok(!h.appended.some((a) => a.type === 'edit.preview'));
    assert.equal(h.appended.at(-1)?.type, 'edit.completed');
  });
});
