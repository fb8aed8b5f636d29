import { Inject, Injectable } from '@nestjs/common';
import { ApiError, ErrorCode } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { JobQueue } from '@step1x/job-queue';
import { DEPS } from '../api-deps';
import { QueueAdmission } from './queue-admission';

/**
 * The back-pressure every route that creates edits passes (POST /v1/edits, POST /v1/batches, the OpenAI route
 * through EditsService): QUEUE_MAX_DEPTH over the whole queue and TENANT_MAX_QUEUED per tenant (CONTRACT.md "Fair
 * scheduling and limits"), both answered with 429 `queue_full` and Retry-After. One instance per API process, so
 * the depth-read cache of `QueueAdmission` covers every route. Both are read before anything is written: replicas
 * admitting at the same moment may overshoot a cap by what they admit together (a bound on growth, not an exact
 * count).
 */
@Injectable()
export class EditAdmission {
  private readonly queue: QueueAdmission;

  constructor(
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.config) private readonly config: AppConfig,
  ) {
    this.queue = new QueueAdmission(() => jobQueue.depth(), { maxDepth: config.limits.queueMaxDepth });
  }

  /** Admits `count` new edits of `tenantId` (a batch: all its items), or throws 429 `queue_full`. */
  async assertRoom(tenantId: string, count: number): Promise<void> {
    const admission = await this.queue.admit(count);
    if (!admission.admitted) {
      throw this.queueFull(`the queue is full (${admission.depth} edits waiting); retry later`);
    }
    const cap = this.config.fairness.maxQueuedPerTenant;
    if (cap === 0) return;
    const queued = await this.jobQueue.queuedEditCount(tenantId);
    if (queued + count > cap) {
      throw this.queueFull(`this tenant has ${queued} edits queued (at most ${cap}); retry when some have started`);
    }
  }

  private queueFull(message: string): ApiError {
    return new ApiError(ErrorCode.QueueFull, message, {
      headers: { 'Retry-After': String(this.config.limits.queueFullRetryAfterS) },
    });
  }
}
