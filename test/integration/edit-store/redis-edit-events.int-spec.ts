import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EditEventStream, RedisEditEventLog, RedisEditEventWakeups, RedisKeys } from '@step1x/edit-store';
import { redisForSuite } from '../../support/redis-server';

/** The event log and its wake-ups on a real redis-server (docs/ARCHITECTURE.md "Live events and previews"). */
describe('RedisEditEventLog and RedisEditEventWakeups (int)', () => {
  const redis = redisForSuite();
  const keys = new RedisKeys('evt');

  it('appends with growing stream ids, keeps the TTL after every event, caps the length, reads strictly after an id', async () => {
    const log = new RedisEditEventLog(redis.command, keys, { ttlS: 600, maxLen: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(await log.append('edit_a', 'edit.progress', JSON.stringify({ i })));
    const ttl = await redis.command.ttl(keys.editEvents('edit_a'));
    assert.ok(ttl > 590 && ttl <= 600, `TTL ${ttl}`);
    // MAXLEN ~ trims whole macro nodes: about 10 kept, never all 300.
    const length = await redis.command.xlen(keys.editEvents('edit_a'));
    assert.ok(length >= 10 && length < 300, `length ${length}`);
    const tail = await log.readAfter('edit_a', ids[297], 100);
    assert.deepEqual(
      tail.map((e) => [e.id, e.type, e.data]),
      [
        [ids[298], 'edit.progress', '{"i":298}'],
        [ids[299], 'edit.progress', '{"i":299}'],
      ],
    );
    assert.deepEqual(await log.readAfter('edit_a', ids[299], 100), []);
    assert.deepEqual(await log.readAfter('edit_none', null, 100), []);
  });

  it('a follower on one connection sees events appended through another, woken by the channel, not the poll', async () => {
    const log = new RedisEditEventLog(redis.command, keys, { ttlS: 600, maxLen: 100 });
    const wakeups = new RedisEditEventWakeups(redis.command, keys);
    const stream = new EditEventStream(log, wakeups, { pollMs: 60_000 });
    try {
      await log.append('edit_b', 'edit.started', '{}');
      const received: string[] = [];
      const following = (async () => {
        for await (const event of stream.follow('edit_b')) received.push(event.type);
      })();
      // Let the subscriber connect before the live events (a wake-up sent earlier would cost the 60 s poll).
      const deadline = Date.now() + 5000;
      while (Number((await redis.command.pubsub('NUMSUB', keys.editEventsChannel()))[1]) < 1) {
        assert.ok(Date.now() < deadline, 'the subscriber never subscribed');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const started = Date.now();
      await log.append('edit_b', 'edit.progress', '{}');
      await log.append('edit_b', 'edit.completed', '{}');
      await following;
      assert.ok(Date.now() - started < 5000, 'woken by pub/sub');
      assert.deepEqual(received, ['edit.started', 'edit.progress', 'edit.completed']);
      assert.equal(wakeups.watching, 0);
    } finally {
      await wakeups.close();
    }
  });
});
