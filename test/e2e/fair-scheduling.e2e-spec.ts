import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EditObject } from '@step1x/contracts';
import { isTerminal, multipartOf, pngOf, startServiceStack, waitForEdit, type ServiceStack } from './service-harness';

/**
 * TENANT_MAX_RUNNING across real processes: a worker SIGKILLed mid-edit keeps its tenant's slot until the stalled
 * edit is re-run and settles (once), then the slot comes back for the tenant's next edit.
 */
describe('fair scheduling: TENANT_MAX_RUNNING survives a SIGKILLed worker (e2e)', () => {
  let stack: ServiceStack;
  let png: Buffer;

  before(async () => {
    stack = await startServiceStack({ TENANT_MAX_RUNNING: '1' });
    png = await pngOf(64, 64);
  });
  after(async () => {
    await stack?.stop();
  });

  const submit = async (steps: number) => {
    const response = await stack.call('/v1/edits', {
      method: 'POST',
      body: multipartOf({ instruction: 'turn it green', steps: String(steps) }, { bytes: png, type: 'image/png' }),
    });
    assert.equal(response.status, 202);
    return (await response.json()) as EditObject;
  };

  it("a killed worker's edit is re-run once; the tenant's second edit starts only after it, on the freed slot", async () => {
    const doomed = await stack.startWorker();
    const first = await submit(8);
    const second = await submit(2);
    await waitForEdit(stack, first.id, (e) => e.status === 'running' && e.progress.step >= 2, 60_000);
    doomed.kill('SIGKILL');
    await doomed.exited;
    const rescuers = [await stack.startWorker(), await stack.startWorker()];
    const { edit: firstDone } = await waitForEdit(stack, first.id, isTerminal, 90_000);
    const { edit: secondDone } = await waitForEdit(stack, second.id, isTerminal, 90_000);
    assert.equal(firstDone.status, 'succeeded');
    assert.equal(secondDone.status, 'succeeded', 'the slot came back: the next edit ran');
    assert.ok(
      Date.parse(secondDone.started_at ?? '') >= Date.parse(firstDone.completed_at ?? ''),
      `cap 1: the second edit started (${secondDone.started_at}) after the first ended (${firstDone.completed_at})`,
    );
    assert.ok(await stack.objectStore.exists(`outputs/acme/${first.id}.png`));
    for (const rescuer of rescuers) rescuer.kill('SIGTERM');
    await Promise.all(rescuers.map((rescuer) => rescuer.exited));
  });
});
