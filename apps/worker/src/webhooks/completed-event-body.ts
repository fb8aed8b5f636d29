import { presentEdit, WebhookEventType } from '@step1x/contracts';
import type { EditRepository } from '@step1x/edit-store';
import type { ObjectStore } from '@step1x/storage';
import { serializeWebhookEvent } from '@step1x/webhooks';
import type { CompletedBodyRenderer } from './webhook-delivery.service';

/**
 * The `edit.completed` body as of this attempt: the edit as it is now, its output URL signed now (valid
 * OUTPUT_URL_TTL_S from this attempt, not from the first), under the event's original timestamp.
 */
export class FreshCompletedBody implements CompletedBodyRenderer {
  constructor(
    private readonly edits: Pick<EditRepository, 'get'>,
    private readonly outputs: Pick<ObjectStore, 'presignGet'>,
    private readonly outputUrlTtlS: number,
  ) {}

  async render(editId: string, eventAt: Date): Promise<string | null> {
    const record = await this.edits.get(editId);
    if (!record) return null;
    let signedOutput: { url: string; expiresAt: string } | null = null;
    if (record.status === 'succeeded' && record.output) {
      const signed = await this.outputs.presignGet(record.output.key, { expiresInSeconds: this.outputUrlTtlS });
      signedOutput = { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
    }
    const data = presentEdit(record, { queuePosition: null, signedOutput });
    return serializeWebhookEvent(WebhookEventType.EditCompleted, data, eventAt);
  }
}
