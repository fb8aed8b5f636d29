import { previewObjectKey, type EditRecord } from '@step1x/contracts';
import { encodePreviewJpeg, type RgbImage } from '@step1x/imaging';
import type { ObjectStore } from '@step1x/storage';
import { describeError, type WorkerLogger } from '../worker-logger';
import type { EditWebhooks } from './edit-webhooks';

/** Deterministic, so a re-run of the edit overwrites its previews instead of adding more. */
export function previewKeyOf(tenantId: string, editId: string, step: number): string {
  return previewObjectKey(tenantId, editId, step);
}

/**
 * The step previews of one run (CONTRACT.md "Live events and previews"): each is encoded (JPEG ≤ 256 px), stored
 * in S3 and announced as `edit.preview`, one after another in step order, off the model loop (which only hands the
 * small RGB image over). A failure is logged and never fails the edit.
 */
export class EditPreviews {
  private work: Promise<void> = Promise.resolve();
  private stored = 0;

  constructor(
    private readonly record: EditRecord,
    private readonly objects: Pick<ObjectStore, 'put'>,
    private readonly webhooks: Pick<EditWebhooks, 'emitPreview'>,
    private readonly logger: WorkerLogger,
  ) {}

  /** Called from the model loop: queues the preview and returns at once. */
  offer(step: number, total: number, image: RgbImage): void {
    this.work = this.work.then(() => this.store(step, total, image));
  }

  /** Resolves once every offered preview is stored and announced (or has failed); never rejects. */
  async settled(): Promise<number> {
    await this.work;
    return this.stored;
  }

  private async store(step: number, total: number, image: RgbImage): Promise<void> {
    const { tenantId, id } = this.record;
    try {
      const jpeg = await encodePreviewJpeg(image);
      const key = previewKeyOf(tenantId, id, step);
      await this.objects.put(key, jpeg, {
        contentType: 'image/jpeg',
        metadata: { tenant: tenantId, edit: id, step: String(step) },
      });
      await this.webhooks.emitPreview(this.record, { step, total, key });
      this.stored++;
    } catch (error) {
      this.logger.warn(`preview of ${id} at step ${step} dropped: ${describeError(error)}`);
    }
  }
}
