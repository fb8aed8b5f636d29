import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply } from 'fastify';
import { ApiError } from '@step1x/contracts';
import type { RateLimiter, RateLimitWindow } from '@step1x/edit-store';
import { RateLimits } from './rate-limits.service';

/** The three reply methods RateLimits uses, over a plain map (names lower-cased as Fastify does). */
function fakeReply() {
  const headers = new Map<string, string>();
  const reply = {
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    hasHeader: (name: string) => headers.has(name.toLowerCase()),
    headers: (values: Record<string, string>) => {
      for (const [name, value] of Object.entries(values)) headers.set(name.toLowerCase(), value);
      return reply;
    },
  };
  return { reply: reply as unknown as FastifyReply, headers };
}

function limiter(requests: RateLimitWindow, edits: RateLimitWindow): RateLimiter {
  return { consumeRequest: async () => requests, consumeEdits: async () => edits, refundEdits: async () => edits };
}

const window = (allowed: boolean, limit: number, remaining: number, resetMs: number): RateLimitWindow => ({
  allowed,
  limit,
  remaining,
  resetMs,
});

describe('RateLimits', () => {
  it('advertises the request window (draft-06 fields, reset in whole seconds)', async () => {
    const { reply, headers } = fakeReply();
    await new RateLimits(limiter(window(true, 10, 7, 1), window(true, 0, 0, 0))).admitRequest('k', reply);
    assert.deepEqual(Object.fromEntries(headers), {
      'ratelimit-limit': '10',
      'ratelimit-remaining': '7',
      'ratelimit-reset': '1',
      'ratelimit-policy': '10;w=1',
    });
  });

  it('shows the edits window on creation only when it is the tighter one', async () => {
    const tight = fakeReply();
    const limits = new RateLimits(limiter(window(true, 10, 9, 800), window(true, 3, 2, 59_000)));
    await limits.admitRequest('k', tight.reply);
    await limits.consumeEdits('k', 'acme', 1, tight.reply);
    assert.equal(tight.headers.get('ratelimit-policy'), '3;w=60');
    assert.equal(tight.headers.get('ratelimit-reset'), '59');

    const loose = fakeReply();
    const other = new RateLimits(limiter(window(true, 10, 1, 800), window(true, 30, 20, 59_000)));
    await other.admitRequest('k', loose.reply);
    await other.consumeEdits('k', 'acme', 1, loose.reply);
    assert.equal(loose.headers.get('ratelimit-policy'), '10;w=1');
  });

  it('refuses with 429 rate_limited, Retry-After ≥ 1 s and Remaining 0', async () => {
    const { reply } = fakeReply();
    const limits = new RateLimits(limiter(window(false, 10, 0, 120), window(false, 3, 0, 30_500)));
    const refused = await limits.admitRequest('k', reply).catch((error: unknown) => error);
    assert.ok(refused instanceof ApiError);
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'rate_limited');
    assert.equal(refused.headers['Retry-After'], '1');
    assert.equal(refused.headers['RateLimit-Remaining'], '0');
    const edits = await limits.consumeEdits('k', 'acme', 5).catch((error: unknown) => error);
    assert.ok(edits instanceof ApiError);
    assert.equal(edits.headers['Retry-After'], '31');
    assert.match(edits.message, /5 edits at once exceed the limit of 3 edits per minute/);
  });

  it('says nothing while a limit is off', async () => {
    const { reply, headers } = fakeReply();
    await new RateLimits(limiter(window(true, 0, 0, 0), window(true, 0, 0, 0))).admitRequest('k', reply);
    assert.equal(headers.size, 0);
  });
});
