import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api-error';
import { coerceMultipartFields, EDIT_REQUEST_DEFAULTS, parseEditRequest } from './edit-request.schema';
import { ERROR_STATUS } from './error-codes';
import { QWEN_SPECIAL_TOKENS } from './special-tokens';

const url = 'https://images.example/cat.png';

function rejection(body: unknown, hasUpload = false): ApiError {
  try {
    parseEditRequest(body, hasUpload);
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(body)} to be refused`);
}

describe('parseEditRequest', () => {
  it('applies every default and leaves seed null for the service to draw', () => {
    const { fields, image } = parseEditRequest({ instruction: 'make the sky pink', image_url: url }, false);
    assert.deepEqual(image, { kind: 'url', url });
    assert.deepEqual(fields, {
      instruction: 'make the sky pink',
      seed: null,
      steps: EDIT_REQUEST_DEFAULTS.steps,
      guidance: EDIT_REQUEST_DEFAULTS.guidance,
      size_level: 512,
      output_format: 'png',
      webhook_url: null,
      webhook_events: ['started', 'progress', 'completed'],
      priority: 'interactive',
      previews: false,
      metadata: null,
    });
  });

  it('accepts the edges of every range', () => {
    const low = parseEditRequest({ instruction: 'a', image_key: 'k', seed: 0, steps: 1, guidance: 1 }, false);
    assert.equal(low.fields.seed, 0);
    const high = parseEditRequest(
      { instruction: '😀'.repeat(2000), image_key: 'k', seed: 2 ** 32 - 1, steps: 100, guidance: 20, size_level: 1024 },
      false,
    );
    assert.equal(high.fields.seed, 2 ** 32 - 1);
    assert.equal(high.fields.size_level, 1024);
  });

  const outOfRange: Array<[string, Record<string, unknown>]> = [
    ['seed', { seed: -1 }],
    ['seed', { seed: 2 ** 32 }],
    ['steps', { steps: 0 }],
    ['steps', { steps: 101 }],
    ['guidance', { guidance: 0.99 }],
    ['guidance', { guidance: 20.01 }],
    ['size_level', { size_level: 640 }],
    ['instruction', { instruction: 'x'.repeat(2001) }],
    ['instruction', { instruction: '' }],
    ['metadata', { metadata: { blob: 'x'.repeat(4100) } }],
  ];
  for (const [param, patch] of outOfRange) {
    it(`refuses ${JSON.stringify(patch).slice(0, 40)} as out_of_range on ${param}`, () => {
      const error = rejection({ instruction: 'ok', image_url: url, ...patch });
      assert.equal(error.code, 'out_of_range');
      assert.equal(error.status, 400);
      assert.equal(error.param, param);
    });
  }

  const invalid: Array<[string, Record<string, unknown>]> = [
    ['steps', { steps: 2.5 }],
    ['steps', { steps: '20' }],
    ['output_format', { output_format: 'gif' }],
    ['priority', { priority: 'urgent' }],
    ['webhook_url', { webhook_url: 'ftp://example.com/hook' }],
    ['webhook_events', { webhook_events: ['finished'] }],
    ['metadata', { metadata: [1, 2] }],
    ['instruction', { instruction: ' \n\t ' }],
    ['instruction', { instruction: 'make it\u0000 red' }],
    ['instruction', { instruction: 'lone high \ud800 surrogate' }],
    ['instruction', { instruction: 'lone low \udc00 surrogate' }],
    ['instruction', { instruction: 'reversed pair \udc00\ud800' }],
  ];
  for (const [param, patch] of invalid) {
    it(`refuses ${JSON.stringify(patch).slice(0, 40)} as invalid_request on ${param}`, () => {
      const error = rejection({ instruction: 'ok', image_url: url, ...patch });
      assert.equal(error.code, 'invalid_request');
      // A nested field is named `field.sub` or `field[index]`.
      assert.equal(error.param?.split(/[.[]/)[0], param);
    });
  }

  it('names an unknown field, even when another field is also wrong', () => {
    const error = rejection({ instruction: 'ok', image_url: url, steps: 0, sampler: 'euler' });
    assert.equal(error.code, 'unknown_field');
    assert.equal(error.param, 'sampler');
  });

  it('refuses every Qwen special-token literal in the instruction', () => {
    assert.equal(QWEN_SPECIAL_TOKENS.length, 22);
    for (const token of QWEN_SPECIAL_TOKENS) {
      const error = rejection({ instruction: `paint it ${token} red`, image_url: url });
      assert.equal(error.code, 'instruction_contains_special_token', token);
    }
    // A lookalike without the pipes is ordinary text.
    parseEditRequest({ instruction: 'write <im_start> on the sign', image_url: url }, false);
  });

  it('accepts paired surrogates (emoji) and other control characters the tokenizer represents', () => {
    parseEditRequest({ instruction: 'add a hat 🎩 and a tab\tand newline\n', image_url: url }, false);
  });

  it('needs exactly one image source', () => {
    assert.equal(rejection({ instruction: 'ok' }).code, 'invalid_request');
    assert.equal(rejection({ instruction: 'ok', image_url: url, image_key: 'k' }).param, 'image_url');
    assert.equal(rejection({ instruction: 'ok', image_url: url }, true).code, 'invalid_request');
    assert.deepEqual(parseEditRequest({ instruction: 'ok' }, true).image, { kind: 'upload' });
  });

  it('always includes completed and orders the events canonically', () => {
    const { fields } = parseEditRequest(
      { instruction: 'ok', image_url: url, webhook_events: ['progress', 'progress'] },
      false,
    );
    assert.deepEqual(fields.webhook_events, ['progress', 'completed']);
  });

  it('treats null on nullable fields as not given', () => {
    const { fields } = parseEditRequest({ instruction: 'ok', image_url: url, seed: null, metadata: null }, false);
    assert.equal(fields.seed, null);
    assert.equal(fields.metadata, null);
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, [], 'text', 3]) assert.equal(rejection(body).code, 'invalid_request');
  });

  it('maps every code to the status of the contract table', () => {
    assert.equal(new ApiError('queue_full', 'busy').status, 429);
    assert.equal(new ApiError('unsupported_aspect_ratio', 'thin').status, 422);
    assert.equal(ERROR_STATUS.idempotency_in_progress, 409);
  });
});

describe('coerceMultipartFields', () => {
  it('parses numbers strictly, JSON metadata and split event lists', () => {
    const body = coerceMultipartFields({
      instruction: ['ok'],
      steps: ['12'],
      guidance: ['7.5'],
      seed: ['12abc'],
      metadata: ['{"order":7}'],
      webhook_events: ['started,progress', 'completed'],
    });
    assert.deepEqual(body, {
      instruction: 'ok',
      steps: 12,
      guidance: 7.5,
      seed: '12abc',
      metadata: { order: 7 },
      webhook_events: ['started', 'progress', 'completed'],
    });
    assert.equal(rejection({ ...body, seed: body.seed }, true).param, 'seed');
  });

  it('refuses a repeated scalar field and metadata that is not JSON', () => {
    assert.throws(
      () => coerceMultipartFields({ steps: ['1', '2'] }),
      (e: ApiError) => e.param === 'steps',
    );
    assert.throws(
      () => coerceMultipartFields({ metadata: ['{oops'] }),
      (e: ApiError) => e.code === 'invalid_request',
    );
  });
});
