import { Queue } from 'bullmq';
import { JobName, QueueName, type DeliverWebhookPayload, type EditImagePayload } from '@step1x/contracts';
import type {
  EditJobState,
  EditRunSample,
  EtaQuery,
  EnqueueWebhookOptions,
  JobQueue,
  Lane,
  QueueDepth,
  QueueLoad,
  RemoveQueuedResult,
} from './job-queue.port';
import { LANE_PRIORITY, PRIORITY_SCORE_STRIDE, laneScoreRange } from './lanes';
import type { RedisClient, RedisKeys } from '@step1x/edit-store';
import { RedisFairScheduler, type FairEdit, type FairSchedulerOptions } from './redis-fair-scheduler';
import { RedisEditThroughput } from './redis-edit-throughput';

export interface BullmqJobQueueOptions {
  /** A command connection; the caller owns it (this adapter never closes it). */
  connection: RedisClient;
  keys: RedisKeys;
  /** Attempts per edit on infrastructure errors (EDIT_MAX_ATTEMPTS). @defaultValue 3 */
  editAttempts?: number;
  /** First retry delay, doubled per attempt (EDIT_RETRY_BACKOFF_MS). @defaultValue 5000 */
  editRetryBackoffMs?: number;
  /** Finished BullMQ jobs are dropped after this; our edit record is the store of record. @defaultValue 3600 */
  keepFinishedJobsS?: number;
  /**
   * MODEL_VERSION: stamped on every edit job as `modelVersion`; a worker whose models differ leaves the job queued
   * (docs/DEPLOY.md "Upgrades"). @defaultValue none (any worker runs the job)
   */
  modelVersion?: string | null;
  /** Fair order across tenants (TENANT_WEIGHTS, TENANT_MAX_RUNNING, EDIT_READY_PER_LANE). @defaultValue plain shares */
  fairness?: FairSchedulerOptions;
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
  private readonly options: Required<Omit<BullmqJobQueueOptions, 'connection' | 'keys' | 'fairness' | 'modelVersion'>>;
  private readonly fair: RedisFairScheduler;
  private readonly throughput: RedisEditThroughput;

  constructor(private readonly config: BullmqJobQueueOptions) {
    this.options = {
      editAttempts: config.editAttempts ?? DEFAULTS.editAttempts,
      editRetryBackoffMs: config.editRetryBackoffMs ?? DEFAULTS.editRetryBackoffMs,
      keepFinishedJobsS: config.keepFinishedJobsS ?? DEFAULTS.keepFinishedJobsS,
    };
    const shared = { connection: config.connection, prefix: config.keys.bullPrefix() };
    this.edit = new Queue<EditImagePayload>(QueueName.Edit, shared);
    this.webhook = new Queue<DeliverWebhookPayload>(QueueName.Webhook, shared);
    this.fair = new RedisFairScheduler(
      config.connection,
      config.keys,
      {
        prioritizedKey: this.edit.keys.prioritized,
        // BullMQ's job hash is `<prefix>:<queue>:<job id>`; its `keys['']` is `<prefix>:<queue>:`.
        jobKeyStem: this.edit.keys[''],
        laneScores: { interactive: laneScoreRange('interactive'), batch: laneScoreRange('batch') },
      },
      config.fairness,
    );
    this.throughput = new RedisEditThroughput(config.connection, config.keys);
  }

  async enqueueEdit(payload: EditImagePayload, lane: Lane): Promise<void> {
    await this.enqueueEdits([{ payload, lane }]);
  }

  /**
   * Queues edits in the fair order of their lanes, then hands BullMQ what it should hold now. An edit already
   * handed to BullMQ (a retry of an acceptance, the reconciler) gets its job added again, which BullMQ ignores
   * when the job exists and which repairs a job that was lost.
   */
  async enqueueEdits(edits: readonly { payload: EditImagePayload; lane: Lane }[]): Promise<void> {
    const fairEdits = edits.map(({ payload, lane }) => ({ editId: payload.editId, tenantId: payload.tenantId, lane }));
    const outcomes = await this.fair.enqueue(fairEdits);
    const inFlight = fairEdits.filter((_, index) => outcomes[index] === 'in_flight');
    if (inFlight.length > 0) await this.addEditJobs(inFlight);
    await this.dispatchEdits();
  }

  /**
   * Moves the next fair edits into BullMQ (at most EDIT_READY_PER_LANE waiting there per lane, honouring
   * TENANT_MAX_RUNNING). Called after every enqueue, by every worker when it takes and when it finishes an edit,
   * and on a timer; it also re-adds the jobs of hand-offs whose process died between picking and adding.
   * Returns how many edits it handed over.
   */
  async dispatchEdits(): Promise<number> {
    const stale = await this.fair.staleHandoffs();
    if (stale.length > 0) {
      await this.addEditJobs(stale);
      await this.fair.handedOff(stale);
    }
    const picked = await this.fair.dispatch();
    if (picked.length === 0) return 0;
    await this.addEditJobs(picked);
    await this.fair.handedOff(picked);
    return picked.length;
  }

  private async addEditJobs(edits: readonly FairEdit[]): Promise<void> {
    await this.edit.addBulk(
      edits.map(({ editId, tenantId, lane }) => ({
        name: JobName.EditImage,
        data: this.config.modelVersion
          ? { editId, tenantId, modelVersion: this.config.modelVersion }
          : { editId, tenantId },
        opts: {
          jobId: editId,
          priority: LANE_PRIORITY[lane],
          attempts: this.options.editAttempts,
          backoff: { type: 'exponential', delay: this.options.editRetryBackoffMs },
          removeOnComplete: { age: this.options.keepFinishedJobsS },
          removeOnFail: { age: this.options.keepFinishedJobsS },
        },
      })),
    );
  }

  /** Queued edits of one tenant not yet handed to a worker: what TENANT_MAX_QUEUED is compared with. */
  queuedEditCount(tenantId: string): Promise<number> {
    return this.fair.tenantWaitingCount(tenantId);
  }

  recordEditRun(sample: EditRunSample): Promise<void> {
    return this.throughput.record(sample);
  }

  editEtaSeconds(query: EtaQuery): Promise<number | null> {
    return this.throughput.etaSeconds(query);
  }

  async removeQueuedEdit(editId: string): Promise<RemoveQueuedResult> {
    if (await this.fair.remove(editId)) return 'removed';
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
    if (await this.fair.isWaiting(editId)) return 'queued';
    const state = await this.edit.getJobState(editId);
    // Picked by a dispatcher that has not added the job yet (or died doing so: the next dispatch re-adds it).
    if (state === 'unknown' && (await this.fair.isHandedOff(editId))) return 'queued';
    if ((QUEUED_STATES as readonly string[]).includes(state) || state === 'waiting-children') return 'queued';
    if (state === 'active' || state === 'completed' || state === 'failed') return state;
    return 'absent';
  }

  async queuedEditIds(limit: number): Promise<string[]> {
    const waiting = await this.fair.waitingIds(limit);
    if (waiting.length >= limit) return waiting;
    const inBullmq = await this.edit.getRanges([...QUEUED_STATES], 0, Math.max(0, limit - waiting.length - 1), true);
    return [...waiting, ...inBullmq];
  }

  /**
   * The fair order of a lane is its jobs already in BullMQ (taken first, FIFO) followed by the edits still in the
   * fair structures in tag order, so a waiting edit's position is the lane's BullMQ count plus its fair rank.
   */
  async queuePosition(editId: string, lane: Lane): Promise<number | null> {
    const laneStart = LANE_PRIORITY[lane] * PRIORITY_SCORE_STRIDE;
    const position = (await this.config.connection.eval(
      LANE_POSITION_SCRIPT,
      1,
      this.edit.keys.prioritized,
      editId,
      String(laneStart),
    )) as number;
    if (position > 0) return position;
    const rank = await this.fair.rank(editId, lane);
    if (rank === null) return null;
    const inBullmq = await this.config.connection.zcount(
      this.edit.keys.prioritized,
      laneStart,
      `(${laneStart + PRIORITY_SCORE_STRIDE}`,
    );
    return inBullmq + rank;
  }

  async depth(): Promise<QueueDepth> {
    const [perPriority, counts, fairInteractive, fairBatch] = await Promise.all([
      this.edit.getCountsPerPriority([LANE_PRIORITY.interactive, LANE_PRIORITY.batch]),
      this.edit.getJobCounts('waiting', 'prioritized', 'delayed', 'paused'),
      this.fair.waitingCount('interactive'),
      this.fair.waitingCount('batch'),
    ]);
    const interactive = (perPriority[String(LANE_PRIORITY.interactive)] ?? 0) + fairInteractive;
    const batch = (perPriority[String(LANE_PRIORITY.batch)] ?? 0) + fairBatch;
    const delayed = counts.delayed ?? 0;
    const total =
      (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0) + delayed + fairInteractive + fairBatch;
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

  /** The longer wait of the lane's BullMQ head and its longest-waiting edit in the fair structures. */
  private async oldestQueuedAt(lane: Lane): Promise<Date | null> {
    const [inBullmq, inFair] = await Promise.all([this.oldestInBullmq(lane), this.fair.oldestWaitingAt(lane)]);
    if (inBullmq === null) return inFair;
    if (inFair === null) return inBullmq;
    return inBullmq.getTime() <= inFair.getTime() ? inBullmq : inFair;
  }

  /** The head of a lane is its lowest score in the `prioritized` zset (FIFO within a priority, lanes.ts). */
  private async oldestInBullmq(lane: Lane): Promise<Date | null> {
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
