import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EditEventStream,
  EditEventWakeupHub,
  isEditEventId,
  type EditEventLog,
  type StoredEditEvent,
} from './edit-events';

/** An in-memory log with Redis-like ids; `append` wakes the hub as the Redis script's PUBLISH does. */
class MemoryLog implements EditEventLog {
  readonly events = new Map<string, StoredEditEvent[]>();
  private seq = 0;
  reads = 0;
  constructor(private readonly hub: EditEventWakeupHub | null) {}
  async append(editId: string, type: string, data: string): Promise<string> {
    const id = `1000-${this.seq++}`;
    const list = this.events.get(editId) ?? [];
    list.push({ id, type, data });
    this.events.set(editId, list);
    this.hub?.wake(editId);
    return id;
  }
  async readAfter(editId: string, after: string | null, count: number): Promise<StoredEditEvent[]> {
    this.reads++;
    const list = this.events.get(editId) ?? [];
    const seqOf = (id: string) => Number(id.split('-')[1]);
    return list.filter((e) => after === null || seqOf(e.id) > seqOf(after)).slice(0, count);
  }
}

async function collect(iterable: AsyncIterable<StoredEditEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const event of iterable) out.push(`${event.id} ${event.type}`);
  return out;
}

describe('EditEventStream', () => {
  it('replays, then follows live events in order, and ends after edit.completed', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(hub);
    await log.append('e1', 'edit.started', '{}');
    const stream = new EditEventStream(log, hub, { pollMs: 60_000 });
    const done = collect(stream.follow('e1'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await log.append('e1', 'edit.progress', '{}');
    await log.append('e2', 'edit.started', '{}'); // another edit: not in this stream
    await log.append('e1', 'edit.completed', '{}');
    await log.append('e1', 'edit.progress', '{}'); // after the end: never delivered
    assert.deepEqual(await done, ['1000-0 edit.started', '1000-1 edit.progress', '1000-3 edit.completed']);
    assert.equal(hub.watching, 0, 'the registration is freed at the end');
  });

  it('continues strictly after `after` and pages through a long replay', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(hub);
    for (let i = 0; i < 7; i++) await log.append('e', 'edit.progress', String(i));
    await log.append('e', 'edit.completed', '{}');
    const stream = new EditEventStream(log, hub, { pageSize: 3 });
    const all = await collect(stream.follow('e', { after: '1000-2' }));
    assert.deepEqual(
      all.map((line) => line.split(' ')[0]),
      ['1000-3', '1000-4', '1000-5', '1000-6', '1000-7'],
    );
  });

  it('a wake-up that never comes costs latency (the poll), not the event', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(null); // appends wake nobody
    const stream = new EditEventStream(log, hub, { pollMs: 20 });
    const done = collect(stream.follow('e'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await log.append('e', 'edit.completed', '{}');
    assert.deepEqual(await done, ['1000-0 edit.completed']);
  });

  it('an aborted signal ends the iteration and frees the registration at once', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(hub);
    const abort = new AbortController();
    const stream = new EditEventStream(log, hub, { pollMs: 60_000 });
    const done = collect(stream.follow('e', { signal: abort.signal }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(hub.watching, 1);
    abort.abort();
    assert.deepEqual(await done, []);
    assert.equal(hub.watching, 0);
  });

  it('idleEndMs ends a stream with no completed event (an edit whose log expired)', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(hub);
    await log.append('e', 'edit.started', '{}');
    const stream = new EditEventStream(log, hub, { pollMs: 60_000 });
    const started = Date.now();
    assert.deepEqual(await collect(stream.follow('e', { idleEndMs: 50 })), ['1000-0 edit.started']);
    assert.ok(Date.now() - started < 5000);
  });

  it('open() fails before iterating when the first read fails, leaving no registration', async () => {
    const hub = new EditEventWakeupHub();
    const failing: EditEventLog = {
      append: async () => '0-0',
      readAfter: async () => {
        throw new Error('Connection is closed.');
      },
    };
    await assert.rejects(new EditEventStream(failing, hub).open('e'), /Connection is closed/);
    assert.equal(hub.watching, 0);
  });
});

describe('EditEventWakeupHub', () => {
  it('remembers a wake-up that came while its follower was busy', async () => {
    const hub = new EditEventWakeupHub();
    const watch = hub.watch('e');
    hub.wake('e');
    const started = Date.now();
    await watch.next(60_000);
    assert.ok(Date.now() - started < 1000);
    watch.close();
    watch.close();
    assert.equal(hub.watching, 0, 'close is idempotent');
  });
});

describe('isEditEventId', () => {
  it('takes Redis stream ids only', () => {
    assert.equal(isEditEventId('1733330000000-0'), true);
    for (const bad of ['', '1-', '-1', 'abc', '1-2-3', '1733330000000-0\n', '$', '+', '(1-0']) {
      assert.equal(isEditEventId(bad), false, JSON.stringify(bad));
    }
  });
});

describe('EditEventStream: an edit settled without its edit.completed in the log', () => {
  it('ends after a quiet poll once isSettled says so, instead of following forever', async () => {
    const hub = new EditEventWakeupHub();
    const log = new MemoryLog(hub);
    await log.append('e', 'edit.started', '{}');
    let settled = false;
    const stream = new EditEventStream(log, hub, { pollMs: 30 });
    const done = collect(stream.follow('e', { isSettled: async () => settled }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(hub.watching, 1, 'still following while the edit runs');
    settled = true;
    assert.deepEqual(await done, ['1000-0 edit.started']);
    assert.equal(hub.watching, 0);
  });
});
