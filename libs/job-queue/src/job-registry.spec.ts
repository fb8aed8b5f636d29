import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobName, QueueName, type DeliverWebhookPayload, type EditImagePayload } from '@step1x/contracts';
import { JobRegistry, JobRegistryError, OnJob } from './job-registry';

class EditHandler {
  readonly seen: string[] = [];
  @OnJob({ name: JobName.EditImage })
  async editImage(payload: EditImagePayload): Promise<void> {
    this.seen.push(payload.editId);
  }
}

class WebhookHandler {
  @OnJob({ name: JobName.DeliverWebhook })
  async deliver(_payload: DeliverWebhookPayload): Promise<void> {}
}

class SecondEditHandler {
  @OnJob({ name: JobName.EditImage })
  async alsoEdit(): Promise<void> {}
}

describe('JobRegistry', () => {
  it('binds each job to its one handler and lists the queues to consume', async () => {
    const edits = new EditHandler();
    const registry = JobRegistry.fromInstances([edits, new WebhookHandler()]);
    assert.deepEqual(registry.queues().sort(), [QueueName.Edit, QueueName.Webhook]);
    const handler = registry.handlerFor(JobName.EditImage);
    assert.ok(handler);
    await handler({ editId: 'edit_1', tenantId: 't' }, {} as never);
    assert.deepEqual(edits.seen, ['edit_1']);
    assert.equal(registry.handlerFor('unknown-job'), undefined);
  });

  it('refuses to boot when a job has no handler', () => {
    assert.throws(
      () => JobRegistry.fromInstances([new EditHandler()]),
      (error: JobRegistryError) => error.code === 'job_handler_missing' && error.message.includes('deliver-webhook'),
    );
  });

  it('refuses to boot when a job has two handlers, naming both', () => {
    assert.throws(
      () => JobRegistry.fromInstances([new EditHandler(), new SecondEditHandler(), new WebhookHandler()]),
      (error: JobRegistryError) =>
        error.code === 'job_handler_duplicate' &&
        error.message.includes('EditHandler.editImage') &&
        error.message.includes('SecondEditHandler.alsoEdit'),
    );
  });

  it('accepts a subset when told which jobs this process runs', () => {
    const registry = JobRegistry.fromInstances([new WebhookHandler()], [JobName.DeliverWebhook]);
    assert.deepEqual(registry.queues(), [QueueName.Webhook]);
  });
});
