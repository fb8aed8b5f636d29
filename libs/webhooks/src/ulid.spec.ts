import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UlidFactory, ulid, ulidTime } from './ulid';

describe('ULID', () => {
  it('is 26 Crockford base32 characters carrying the time', () => {
    const time = Date.UTC(2026, 10, 27, 12, 0, 0, 123);
    const id = new UlidFactory({ now: () => time }).next();
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(ulidTime(id), time);
  });

  it('encodes time and randomness at fixed positions', () => {
    const factory = new UlidFactory({ now: () => 0, random: (size) => new Uint8Array(size).fill(255) });
    assert.equal(factory.next(), '0000000000ZZZZZZZZZZZZZZZZ');
    const max = new UlidFactory({ now: () => 2 ** 48 - 1, random: (size) => new Uint8Array(size) });
    assert.equal(max.next(), '7ZZZZZZZZZ0000000000000000');
  });

  it('sorts by time, and within one millisecond by creation order', () => {
    let now = 1_000;
    let seed = 7;
    const factory = new UlidFactory({
      now: () => now,
      random: (size) => Uint8Array.from({ length: size }, () => (seed = (seed * 73 + 11) % 256)),
    });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 10 === 0) now += 1;
      ids.push(factory.next());
    }
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('keeps sorting when the clock steps back', () => {
    let now = 5_000;
    const factory = new UlidFactory({ now: () => now });
    const first = factory.next();
    now = 4_000;
    const second = factory.next();
    assert.ok(second > first);
    assert.equal(ulidTime(second), 5_000);
  });

  it('refuses to overflow the random part within one millisecond', () => {
    const factory = new UlidFactory({ now: () => 1, random: (size) => new Uint8Array(size).fill(255) });
    factory.next();
    assert.throws(() => factory.next(), RangeError);
  });

  it('the process-wide generator yields distinct ids', () => {
    const ids = Array.from({ length: 1000 }, () => ulid());
    assert.equal(new Set(ids).size, 1000);
    assert.deepEqual([...ids].sort(), ids);
  });
});
