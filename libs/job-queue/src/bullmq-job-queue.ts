import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobName, QueueName, type DeliverWebhookPayload, type EditImagePayload } from '@step1x/contracts';
import type {
  EditJobState,
  EnqueueWebhookOptions,
  JobQueue,
  Lane,
  QueueDepth,
  QueueLoad,
  RemoveQueuedResult,
} from './job-queue.port';
import { LANE_PRIORITY, PRIORITY_SCORE_STRIDE } from './lanes';
import { RedisKeys } from '@step1x/edit-store';

export interface BullmqJobQueueOptions {
  /** A command connection; the caller owns it (this adapter never closes it). */
  connection: Redis;
  keys: RedisKeys;
  /** Attempts per edit on infrastructure errors (EDIT_MAX_ATTEMPTS). @defaultValue 3 */
  editAttempts?: number;
  /** First retry delay, doubled per attempt (EDIT_RETRY_BACKOFF_MS). @defaultValue 5000 */
  editRetryBackoffMs?: number;
  /** Finished BullMQ jobs are dropped after this; our edit record is the store of record. @defaultValue 3600 */
  keepFinishedJobsS?: number;
}

/** BullMQ's job states that mean "not taken by a worker yet". */
const QUEUED_STATES = ['prioritized', 'waiting', 'delayed', 'paused'] as const;

const DEFAULTS = { editAttempts: 3, editRetryBackoffMs: 5000, keepFinishedJobsS: 3600 } as const;

/**
 * Position of a waiting job within its lane: count the lane's members up to the job's own score.
 * KEYS[1] the queue's `prioritized` zset. ARGV[1] job id, ARGV[2] lane's lowest score. Returns -1 when not waiting.
 */
const LANE_POSITION_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return -1 end
return redis.call('ZCOUNT', KEYS[1], ARGV[2], score)
`;

/** `JobQueue` on BullMQ: one `edit` queue with two priority lanes and one `webhook` queue. */
export class BullmqJobQueue implements JobQueue {
  private readonly edit: Queue<EditImagePayload>;
  private readonly webhook: Queue<DeliverWebhookPayload>;
  private readonly options: Required<Omit<BullmqJobQueueOptions, 'connection' | 'keys'>>;

  constructor(private readonly config: BullmqJobQueueOptions) {
    this.options = {
      editAttempts: config.editAttempts ?? DEFAULTS.editAttempts,
      editRetryBackoffMs: config.editRetryBackoffMs ?? DEFAULTS.editRetryBackoffMs,
      keepFinishedJobsS: config.keepFinishedJobsS ?? DEFAULTS.keepFinishedJobsS,
    };
    const shared = { connection: config.connection, prefix: config.keys.bullPrefix() };
    this.edit = new Queue<EditImagePayload>(QueueName.Edit, shared);
    this.webhook = new Queue<DeliverWebhookPayload>(QueueName.Webhook, shared);
  }

  async enqueueEdit(payload: EditImagePayload, lane: Lane): Promise<void> {
    await this.edit.add(JobName.EditImage, payload, this.editJobOptions(payload, lane));
  }

  async enqueueEdits(payloads: readonly EditImagePayload[], lane: Lane): Promise<void> {
    if (payloads.length === 0) return;
    await this.edit.addBulk(
      payloads.map((payload) => ({ name: JobName.EditImage, data: payload, opts: this.editJobOptions(payload, lane) })),
    );
  }

  private editJobOptions(payload: EditImagePayload, lane: Lane) {
    return {
      jobId: payload.editId,
      priority: LANE_PRIORITY[lane],
      attempts: this.options.editAttempts,
      backoff: { type: 'exponential' as const, delay: this.options.editRetryBackoffMs },
      removeOnComplete: { age: this.options.keepFinishedJobsS },
      removeOnFail: { age: this.options.keepFinishedJobsS },
    };
  }

  async removeQueuedEdit(editId: string): Promise<RemoveQueuedResult> {
    const job = await this.edit.getJob(editId);
    if (!job) return 'absent';
    const state = await job.getState();
    if (state !== 'prioritized' && state !== 'waiting' && state !== 'delayed') return 'taken';
    try {
      // Removal fails (0 or an error) when a worker locked the job between getState and now.
      return (await this.edit.remove(editId)) === 1 ? 'removed' : 'taken';
    } catch {
      return 'taken';
    }
  }

  async editJobState(editId: string): Promise<EditJobState> {
    const state = await this.edit.getJobState(editId);
    if ((QUEUED_STATES as readonly string[]).includes(state) || state === 'waiting-children') return 'queued';
    if (state === 'active' || state === 'completed' || state === 'failed') return state;
    return 'absent';
  }

  queuedEditIds(limit: number): Promise<string[]> {
    return this.edit.getRanges([...QUEUED_STATES], 0, Math.max(0, limit - 1), true);
  }

  async queuePosition(editId: string, lane: Lane): Promise<number | null> {
    const laneStart = LANE_PRIORITY[lane] * PRIORITY_SCORE_STRIDE;
    const position = (await this.config.connection.eval(
      LANE_POSITION_SCRIPT,
      1,
      this.edit.keys.prioritized,
      editId,
      String(laneStart),
    )) as number;
    return position > 0 ? position : null;
  }

  async depth(): Promise<QueueDepth> {
    const [perPriority, counts] = await Promise.all([
      this.edit.getCountsPerPriority([LANE_PRIORITY.interactive, LANE_PRIORITY.batch]),
      this.edit.getJobCounts('waiting', 'prioritized', 'delayed', 'paused'),
    ]);
    const interactive = perPriority[String(LANE_PRIORITY.interactive)] ?? 0;
    const batch = perPriority[String(LANE_PRIORITY.batch)] ?? 0;
    const delayed = counts.delayed ?? 0;
    const total = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0) + delayed;
    return { interactive, batch, delayed, total };
  }

  async load(): Promise<QueueLoad> {
    const [depth, running, interactive, batch] = await Promise.all([
      this.depth(),
      this.edit.getActiveCount(),
      this.oldestQueuedAt('interactive'),
      this.oldestQueuedAt('batch'),
    ]);
    return { ...depth, running, oldestQueuedAt: { interactive, batch } };
  }

  /** The head of a lane is its lowest score in the `prioritized` zset (FIFO within a priority, lanes.ts). */
  private async oldestQueuedAt(lane: Lane): Promise<Date | null> {
    const laneStart = LANE_PRIORITY[lane] * PRIORITY_SCORE_STRIDE;
    const [head] = await this.config.connection.zrangebyscore(
      this.edit.keys.prioritized,
      laneStart,
      `(${laneStart + PRIORITY_SCORE_STRIDE}`,
      'LIMIT',
      0,
      1,
    );
    if (head === undefined) return null;
    const job = await this.edit.getJob(head);
    // The job may have been taken between the two reads; the next poll sees the new head.
    return job ? new Date(job.timestamp) : null;
  }

  async enqueueWebhook(payload: DeliverWebhookPayload, options: EnqueueWebhookOptions = {}): Promise<void> {
    await this.webhook.add(JobName.DeliverWebhook, payload, {
      jobId: `${payload.messageId}.${payload.attempt}`,
      delay: Math.max(0, Math.round(options.delayMs ?? 0)),
      // The webhook sender owns the retry schedule (each retry is a new job), so BullMQ must not retry.
      attempts: 1,
      removeOnComplete: { age: this.options.keepFinishedJobsS },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  async ping(): Promise<void> {
    await this.config.connection.ping();
  }

  async close(): Promise<void> {
    await Promise.all([this.edit.close(), this.webhook.close()]);
  }
}
