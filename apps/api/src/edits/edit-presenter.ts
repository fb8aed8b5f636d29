import { Inject, Injectable } from '@nestjs/common';
import { presentEdit, type EditObject, type EditRecord } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';
import { DEPS } from '../api-deps';

/** Record → edit object, with the lane position asked of the queue and the output URL signed afresh. */
@Injectable()
export class EditPresenter {
  constructor(
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(DEPS.config) private readonly config: AppConfig,
  ) {}

  async present(record: EditRecord): Promise<EditObject> {
    const queuePosition =
      record.status === 'queued' ? await this.jobQueue.queuePosition(record.id, record.input.priority) : null;
    let signedOutput: { url: string; expiresAt: string } | null = null;
    if (record.status === 'succeeded' && record.output) {
      const signed = await this.objectStore.presignGet(record.output.key, {
        expiresInSeconds: this.config.limits.outputUrlTtlS,
      });
      signedOutput = { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
    }
    return presentEdit(record, { queuePosition, signedOutput });
  }
}
