import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobName, NonRetryableJobError } from '@step1x/contracts';
import { JobRegistry } from '@step1x/job-queue';
import type { EditRunner } from '../edits/edit-runner.service';
import type { WebhookDeliveryService } from '../webhooks/webhook-delivery.service';
import { DeliverWebhookHandler, parseDeliverWebhookPayload } from './deliver-webhook.handler';
import { EditImageHandler, parseEditImagePayload } from './edit-image.handler';

describe('job handlers', () => {
  it('register exactly one handler per job name, so the worker can boot', () => {
    const registry = JobRegistry.fromInstances([
      new EditImageHandler({} as EditRunner),
      new DeliverWebhookHandler({} as WebhookDeliveryService),
    ]);
    assert.deepEqual(registry.names().sort(), [JobName.DeliverWebhook, JobName.EditImage].sort());
    assert.deepEqual(registry.queues().sort(), ['edit', 'webhook']);
  });

  it('refuse malformed payloads without a retry', () => {
    assert.throws(() => parseEditImagePayload({ editId: 'x', tenantId: 'acme' }), NonRetryableJobError);
    assert.throws(() => parseEditImagePayload(null), NonRetryableJobError);
    assert.deepEqual(parseEditImagePayload({ editId: 'edit_01JTESTTESTTESTTESTTESTTES', tenantId: 'acme', extra: 1 }), {
      editId: 'edit_01JTESTTESTTESTTESTTESTTES',
      tenantId: 'acme',
    });
    assert.throws(() => parseDeliverWebhookPayload({ messageId: 'msg_bad' }), NonRetryableJobError);
  });
});
