import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bodyLimitFor, jsonDepthExceeds, MULTIPART_ENVELOPE_BYTES } from './http-edges';

describe('http edges', () => {
  it('measures JSON nesting outside strings only', () => {
    assert.equal(jsonDepthExceeds('{"a":[[1]]}', 3), false);
    assert.equal(jsonDepthExceeds('{"a":[[[1]]]}', 3), true);
    assert.equal(jsonDepthExceeds(`{"a":"${'['.repeat(500)}"}`, 3), false, 'brackets inside a string');
    assert.equal(
      jsonDepthExceeds(`{"a":"\\"${'{'.repeat(10)}"}`, 3),
      false,
      'an escaped quote does not end the string',
    );
    assert.equal(jsonDepthExceeds('['.repeat(100_000), 64), true);
    assert.equal(jsonDepthExceeds('[]'.repeat(100_000), 1), false, 'siblings do not add up');
  });

  it('limits a declared body by its content type', () => {
    const limits = { maxJsonBodyBytes: 1000, maxUploadBytes: 5000 } as Parameters<typeof bodyLimitFor>[1];
    assert.equal(bodyLimitFor('application/json', limits), 1000);
    assert.equal(bodyLimitFor(undefined, limits), 1000);
    assert.equal(bodyLimitFor('Multipart/Form-Data; boundary=x', limits), 5000 + MULTIPART_ENVELOPE_BYTES);
  });
});
