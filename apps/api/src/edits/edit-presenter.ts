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
    const etaS = await this.etaOf(record, queuePosition);
    let signedOutput: { url: string; expiresAt: string } | null = null;
    if (record.status === 'succeeded' && record.output) {
      const signed = await this.objectStore.presignGet(record.output.key, {
        expiresInSeconds: this.config.limits.outputUrlTtlS,
      });
      signedOutput = { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
    }
    return presentEdit(record, { queuePosition, etaS, signedOutput });
  }

  /** `eta_s` from the throughput the workers measured (docs/ARCHITECTURE.md "Fair scheduling across tenants"). */
  private async etaOf(record: EditRecord, queuePosition: number | null): Promise<number | null> {
    const { size_level: sizeLevel, steps } = record.input;
    const now = new Date();
    if (record.status === 'queued' && queuePosition !== null) {
      return this.jobQueue.editEtaSeconds({ status: 'queued', position: queuePosition, sizeLevel, steps, now });
    }
    if (record.status === 'running' && record.startedAt !== null) {
      const startedAt = new Date(record.startedAt);
      return this.jobQueue.editEtaSeconds({ status: 'running', startedAt, sizeLevel, steps, now });
    }
    return null;
  }
}
