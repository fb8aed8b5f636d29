import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api-error';
import { previewInterval } from './edit-params';
import { coerceMultipartFields, parseEditRequest } from './edit-request.schema';
import { wantsWebhookEvent } from './webhook-events';

const parse = (extra: Record<string, unknown>) =>
  parseEditRequest({ instruction: 'make it blue', image_key: 'uploads/acme/x', ...extra }, false).fields;

describe('previews field of POST /v1/edits', () => {
  it('defaults to false; takes true, false or an integer k in [1, 100]', () => {
    assert.equal(parse({}).previews, false);
    assert.equal(parse({ previews: true }).previews, true);
    assert.equal(parse({ previews: false }).previews, false);
    assert.equal(parse({ previews: 1 }).previews, 1);
    assert.equal(parse({ previews: 100 }).previews, 100);
  });

  it('refuses 0 and 101 as out_of_range, other values as invalid_request, naming the field', () => {
    for (const [value, code] of [
      [0, 'out_of_range'],
      [101, 'out_of_range'],
      [2.5, 'invalid_request'],
      ['yes', 'invalid_request'],
      [null, 'invalid_request'],
    ] as const) {
      assert.throws(
        () => parse({ previews: value }),
        (error: unknown) => error instanceof ApiError && error.code === code && error.param === 'previews',
        String(value),
      );
    }
  });

  it('multipart: "true", "false" and digits are coerced; anything else stays text and fails', () => {
    assert.deepEqual(coerceMultipartFields({ previews: ['true'] }), { previews: true });
    assert.deepEqual(coerceMultipartFields({ previews: [' false '] }), { previews: false });
    assert.deepEqual(coerceMultipartFields({ previews: ['4'] }), { previews: 4 });
    assert.deepEqual(coerceMultipartFields({ previews: ['on'] }), { previews: 'on' });
  });

  it('previewInterval: false → 0 (none), true → every step, k → k', () => {
    assert.equal(previewInterval(false), 0);
    assert.equal(previewInterval(undefined), 0);
    assert.equal(previewInterval(true), 1);
    assert.equal(previewInterval(7), 7);
  });

  it('the preview webhook is sent only when webhook_events names it; the default events leave it out', () => {
    assert.equal(wantsWebhookEvent(parse({}).webhook_events, 'edit.preview'), false);
    assert.deepEqual(parse({}).webhook_events, ['started', 'progress', 'completed']);
    const asked = parse({ webhook_events: ['preview'] }).webhook_events;
    assert.deepEqual(asked, ['completed', 'preview']);
    assert.equal(wantsWebhookEvent(asked, 'edit.preview'), true);
    assert.equal(wantsWebhookEvent(asked, 'edit.progress'), false);
  });
});
