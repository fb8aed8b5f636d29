import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api-error';
import { itemWebhookOf, parseBatchRequest, parseUsageQuery, presentBatch, type BatchRecord } from './batch';
import { EDIT_PARAMS } from './edit-params';

const key = 'uploads/acme/01HZZZZZZZZZZZZZZZZZZZZZZZ';

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('parseBatchRequest', () => {
  it('applies the item, then the batch defaults, then the edit defaults; custom_id defaults to the index', () => {
    const parsed = parseBatchRequest(
      {
        items: [
          { image_key: key, instruction: 'a' },
          { image_url: 'https://example.com/x.png', instruction: 'b', steps: 3, custom_id: 'mine' },
        ],
        defaults: { steps: 9, output_format: 'jpeg' },
      },
      10,
    );
    assert.deepEqual(
      parsed.items.map((i) => [i.customId, i.fields.steps, i.fields.output_format, i.fields.guidance, i.image.kind]),
      [
        ['0', 9, 'jpeg', EDIT_PARAMS.guidance.default, 'key'],
        ['mine', 3, 'jpeg', EDIT_PARAMS.guidance.default, 'url'],
      ],
    );
    assert.ok(parsed.items.every((i) => i.fields.priority === 'batch' && i.fields.seed === null));
    assert.equal(parsed.webhook, null);
  });

  it('names the failing item and field in param', () => {
    const items = Array.from({ length: 20 }, () => ({ image_key: key, instruction: 'ok' }));
    const bad = (patch: Record<string, unknown>, at = 17) =>
      refusal(() =>
        parseBatchRequest({ items: items.map((item, i) => (i === at ? { ...item, ...patch } : item)) }, 50),
      );
    assert.equal(bad({ instruction: '' }).param, 'items[17].instruction');
    assert.equal(bad({ guidance: 99 }).code, 'out_of_range');
    assert.equal(bad({ guidance: 99 }).param, 'items[17].guidance');
    assert.deepEqual([bad({ extra: 1 }).code, bad({ extra: 1 }).param], ['unknown_field', 'items[17].extra']);
    assert.equal(bad({ custom_id: 'x'.repeat(65) }).param, 'items[17].custom_id');
    assert.equal(refusal(() => parseBatchRequest({ items }, 19)).code, 'out_of_range');
    assert.equal(refusal(() => parseBatchRequest({ items, defaults: { steps: 0 } }, 50)).param, 'defaults.steps');
  });

  it('sends batch events always with batch.completed, and per-item events only when edit.* is named', () => {
    const url = 'https://example.com/hook';
    const plain = parseBatchRequest({ items: [{ image_key: key, instruction: 'a' }], webhook_url: url }, 1);
    assert.deepEqual(plain.webhook, { url, events: ['batch.completed'] });
    assert.equal(itemWebhookOf(plain.webhook), null);
    const withEdits = parseBatchRequest(
      { items: [{ image_key: key, instruction: 'a' }], webhook_url: url, webhook_events: ['edit.progress'] },
      1,
    );
    assert.deepEqual(itemWebhookOf(withEdits.webhook), { url, events: ['progress', 'completed'] });
  });
});

describe('presentBatch', () => {
  const record = (counts: Partial<BatchRecord['counts']>, status: BatchRecord['status'] = 'queued'): BatchRecord => ({
    id: 'batch_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    tenantId: 'acme',
    status,
    createdAt: '2026-12-04T00:00:00.000Z',
    completedAt: null,
    counts: { total: 2, queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0, ...counts },
    metadata: null,
    cancelRequested: false,
    resultsKey: null,
    webhook: null,
  });
  const signed = { url: 'https://s3/x', expiresAt: '2026-12-04T01:00:00.000Z' };

  it('is queued while every item is, running until finalized, and shows results only once finalized', () => {
    assert.equal(presentBatch(record({ queued: 2 }), null).status, 'queued');
    assert.equal(presentBatch(record({ queued: 1, running: 1 }), null).status, 'running');
    const done = presentBatch(record({ succeeded: 2 }), signed);
    assert.deepEqual([done.status, done.results_url], ['running', null], 'counts done, results not written yet');
    const final = presentBatch(record({ succeeded: 2 }, 'completed'), signed);
    assert.deepEqual([final.status, final.results_url], ['completed', signed.url]);
  });
});

describe('parseUsageQuery', () => {
  it('takes calendar dates, from ≤ to, at most 366 days', () => {
    assert.deepEqual(parseUsageQuery({ from: '2024-01-01', to: '2024-12-31' }), {
      from: '2024-01-01',
      to: '2024-12-31',
    });
    assert.equal(refusal(() => parseUsageQuery({ from: '2023-01-01', to: '2024-01-02' })).code, 'out_of_range');
    assert.equal(refusal(() => parseUsageQuery({ from: '2024-02-30', to: '2024-03-01' })).param, 'from');
    assert.equal(refusal(() => parseUsageQuery({ from: '2024-03-02', to: '2024-03-01' })).code, 'invalid_request');
    assert.equal(refusal(() => parseUsageQuery({ from: '24-01-01', to: '2024-03-01' })).param, 'from');
  });
});
