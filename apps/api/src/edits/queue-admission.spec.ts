import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QueueDepth } from '@step1x/job-queue';
import { QueueAdmission } from './queue-admission';

/** A queue whose depth the test sets, counting how often it is read. */
function fakeQueue(initial: number) {
  const state = { total: initial, reads: 0 };
  const readDepth = async (): Promise<QueueDepth> => {
    state.reads++;
    return { interactive: state.total, batch: 0, delayed: 0, total: state.total };
  };
  return { state, readDepth };
}

describe('QueueAdmission', () => {
  it('refuses exactly at the limit when one process fills the queue', async () => {
    const queue = fakeQueue(0);
    const admission = new QueueAdmission(queue.readDepth, { maxDepth: 3, now: () => 0 });
    const answers = [];
    for (let i = 0; i < 5; i++) {
      const answer = await admission.admit();
      if (answer.admitted) queue.state.total++;
      answers.push(answer.admitted);
    }
    assert.deepEqual(answers, [true, true, true, false, false]);
  });

  it('reads the depth once per freshness window while the queue is far from full', async () => {
    let clock = 0;
    const queue = fakeQueue(10);
    const admission = new QueueAdmission(queue.readDepth, { maxDepth: 1000, freshForMs: 1000, now: () => clock });
    for (let i = 0; i < 100; i++) assert.equal((await admission.admit()).admitted, true);
    assert.equal(queue.state.reads, 1);
    clock = 1000;
    await admission.admit();
    assert.equal(queue.state.reads, 2);
  });

  it('sees room again once the queue drained (a refusal always re-reads)', async () => {
    const queue = fakeQueue(5);
    const admission = new QueueAdmission(queue.readDepth, { maxDepth: 5, now: () => 0 });
    assert.deepEqual(await admission.admit(), { admitted: false, depth: 5 });
    queue.state.total = 4;
    assert.deepEqual(await admission.admit(), { admitted: true });
    queue.state.total = 5;
    assert.equal((await admission.admit()).admitted, false);
  });

  it('counts concurrent submits that share one read against it', async () => {
    const queue = fakeQueue(0);
    const admission = new QueueAdmission(queue.readDepth, { maxDepth: 4, now: () => 0 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => admission.admit()));
    assert.equal(answers.filter((a) => a.admitted).length, 4);
    assert.equal(queue.state.reads, 1);
  });

  it('passes a failed read on (the caller maps it to 503) and reads again next time', async () => {
    let fail = true;
    const admission = new QueueAdmission(
      async () => {
        if (fail) throw new Error('redis down');
        return { interactive: 0, batch: 0, delayed: 0, total: 0 };
      },
      { maxDepth: 2, now: () => 0 },
    );
    await assert.rejects(admission.admit(), /redis down/);
    fail = false;
    assert.deepEqual(await admission.admit(), { admitted: true });
  });
});
