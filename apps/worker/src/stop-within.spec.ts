import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stopWithin } from './stop-within';

describe('stopWithin', () => {
  it('reports a stop that finishes in time', async () => {
    assert.equal(await stopWithin(async () => undefined, 1000), 'stopped');
  });

  it('gives up on a stop that never finishes', async () => {
    assert.equal(await stopWithin(() => new Promise(() => undefined), 20), 'timed_out');
  });
});
