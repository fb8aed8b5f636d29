import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isEditId, newEditId, newWebhookMessageId, ulid } from './ids';

describe('ids', () => {
  it('encodes the time first so ids sort by creation time', () => {
    const earlier = ulid(1_700_000_000_000);
    const later = ulid(1_700_000_000_001);
    assert.equal(earlier.length, 26);
    assert.ok(earlier < later);
    assert.equal(ulid(0).slice(0, 10), '0000000000');
  });

  it('makes distinct, well-formed edit and message ids', () => {
    const a = newEditId();
    const b = newEditId();
    assert.notEqual(a, b);
    assert.ok(isEditId(a));
    assert.ok(!a.includes(':'));
    assert.match(newWebhookMessageId(), /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('refuses a time outside 48 bits', () => {
    assert.throws(() => ulid(-1), RangeError);
    assert.throws(() => ulid(2 ** 48), RangeError);
  });
});
