import { Logger } from '@nestjs/common';
import { isTerminalStatus, previewObjectKey, WebhookEventType, type EditRecord } from '@step1x/contracts';
import { EDIT_EVENTS_FINAL_TYPE, type EditEventStream, type EditRepository } from '@step1x/edit-store';
import type { ObjectStore } from '@step1x/storage';
import type { EditProgressEvent, EditProgressSource } from './edit-progress-source';

/**
 * `EditProgressSource` over the per-edit event stream (docs/ARCHITECTURE.md "Live events and previews"): each
 * `edit.preview` becomes a `preview` with the JPEG's bytes, read from S3 at `previews/<tenant>/<edit>/<step>.jpg`
 * through the object store (the API holds the credentials; the presigned URL is for outside callers). At
 * `edit.completed` the record is read again, so `settled` carries the final state (the record is written before the
 * event is appended). When the stream fails (Redis gone mid-stream) or ends without `edit.completed`, `fallback`
 * (polling the record) finishes the wait: previews are lost then, never the result.
 */
export class EventStreamEditProgressSource implements EditProgressSource {
  private readonly logger = new Logger('OpenAiEditProgress');

  constructor(
    private readonly stream: Pick<EditEventStream, 'follow'>,
    private readonly edits: Pick<EditRepository, 'get'>,
    private readonly objects: Pick<ObjectStore, 'get'>,
    private readonly fallback: EditProgressSource,
  ) {}

  async *follow(editId: string, signal: AbortSignal): AsyncIterable<EditProgressEvent> {
    const record = await this.edits.get(editId);
    if (record === null) throw new Error(`edit ${editId} is gone from the store of record`);
    if (!isTerminalStatus(record.status)) {
      try {
        const events = this.stream.follow(editId, {
          signal,
          // A worker that died between the record's transition and the append leaves no `edit.completed`.
          isSettled: async () => {
            const now = await this.edits.get(editId);
            return now === null || isTerminalStatus(now.status);
          },
        });
        for await (const event of events) {
          if (event.type === WebhookEventType.EditPreview) {
            const preview = await this.previewOf(record, event.data);
            if (preview) yield preview;
          }
          if (event.type === EDIT_EVENTS_FINAL_TYPE) break;
        }
      } catch (error) {
        if (signal.aborted) return;
        this.logger.warn(`events of ${editId} failed, polling its record instead: ${String(error)}`);
      }
      if (signal.aborted) return;
    }
    yield* this.fallback.follow(editId, signal);
  }

  /** The preview an `edit.preview` body names, or null when it cannot be read (it is a nicety; the edit goes on). */
  private async previewOf(record: EditRecord, body: string): Promise<EditProgressEvent | null> {
    let step: number | undefined;
    try {
      const { data } = JSON.parse(body) as { data: { step: number; total: number } };
      step = data.step;
      const object = await this.objects.get(previewObjectKey(record.tenantId, record.id, data.step));
      const jpeg = Buffer.concat((await object.body.toArray()) as Buffer[]);
      return { type: 'preview', step: data.step, total: data.total, jpeg };
    } catch (error) {
      this.logger.warn(`preview of ${record.id} at step ${String(step)} skipped: ${String(error)}`);
      return null;
    }
  }
}
