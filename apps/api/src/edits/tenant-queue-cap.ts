import { ApiError, ErrorCode } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { JobQueue } from '@step1x/job-queue';

/**
 * TENANT_MAX_QUEUED (CONTRACT.md "Fair scheduling and limits"): refuses `adding` more edits of a tenant whose
 * queued edits would then exceed the cap, with 429 `queue_full` and Retry-After. Read before anything is written,
 * so concurrent submits of one tenant on several API replicas may overshoot by what they admit at the same moment
 * (the cap bounds one tenant's backlog; it is not an exact count). A batch checks all its items at once.
 */
export async function assertTenantQueueHasRoom(
  jobQueue: Pick<JobQueue, 'queuedEditCount'>,
  tenantId: string,
  adding: number,
  config: Pick<AppConfig, 'fairness' | 'limits'>,
): Promise<void> {
  const cap = config.fairness.maxQueuedPerTenant;
  if (cap === 0) return;
  const queued = await jobQueue.queuedEditCount(tenantId);
  if (queued + adding <= cap) return;
  throw new ApiError(
    ErrorCode.QueueFull,
    `this tenant has ${queued} edits queued (at most ${cap}); retry when some have started`,
    { headers: { 'Retry-After': String(config.limits.queueFullRetryAfterS) } },
  );
}
