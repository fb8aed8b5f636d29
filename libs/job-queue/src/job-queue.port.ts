import type { CancelEditMessage, DeliverWebhookPayload, EditImagePayload, Priority } from '@step1x/contracts';

/** The two edit lanes: every interactive edit is taken before any batch edit (CONTRACT.md `priority`). */
export type Lane = Priority;

export type RemoveQueuedResult = 'removed' | 'taken' | 'absent';

/**
 * Where an edit's job is: `queued` (waiting in its lane, or delayed for a retry), `active` (a worker holds it),
 * `completed` / `failed` (finished, kept a while), `absent` (no such job).
 */
export type EditJobState = 'queued' | 'active' | 'completed' | 'failed' | 'absent';

export interface QueueDepth {
  /** Queued edits per lane (waiting to be taken by a worker). */
  interactive: number;
  batch: number;
  /** Edits waiting for a retry after an infrastructure error. */
  delayed: number;
  /** Everything not yet running: the number `QUEUE_MAX_DEPTH` is compared with. */
  total: number;
}

/** What an autoscaler needs (`GET /internal/scaling`, docs/DEPLOY.md): the depth plus running edits and waits. */
export interface QueueLoad extends QueueDepth {
  /** Edits a worker holds right now. */
  running: number;
  /** Enqueue time of the oldest edit waiting in each lane (null when the lane is empty). */
  oldestQueuedAt: Record<Lane, Date | null>;
}

export interface EnqueueWebhookOptions {
  /** Wait this long before the attempt (the retry schedule's delay). @defaultValue 0 */
  delayMs?: number;
}

/** Producer side of the queues: what the API (and the worker, for webhooks) asks of them. */
export interface JobQueue {
  /** Queues an edit in its lane; the job id is the edit id, so a second enqueue of one edit is a no-op. */
  enqueueEdit(payload: EditImagePayload, lane: Lane): Promise<void>;
  /**
   * Queues many edits of one lane in one round trip (a batch's items; BullMQ `addBulk`), in the given order. Job
   * id = edit id as for `enqueueEdit`, so queueing an edit again adds nothing.
   */
  enqueueEdits(payloads: readonly EditImagePayload[], lane: Lane): Promise<void>;
  /**
   * Removes an edit no worker has taken yet: `removed`; `taken` when a worker holds it (or just finished it);
   * `absent` when BullMQ has no such job (never enqueued, or already cleaned up).
   */
  removeQueuedEdit(editId: string): Promise<RemoveQueuedResult>;
  editJobState(editId: string): Promise<EditJobState>;
  /** Ids of edit jobs no worker holds yet (both lanes and the retry-delayed), at most `limit`. */
  queuedEditIds(limit: number): Promise<string[]>;
  /** 1-based position within its lane while waiting, else null. */
  queuePosition(editId: string, lane: Lane): Promise<number | null>;
  depth(): Promise<QueueDepth>;
  load(): Promise<QueueLoad>;
  /** Queues one delivery attempt of one webhook event (job id `<messageId>.<attempt>`). */
  enqueueWebhook(payload: DeliverWebhookPayload, options?: EnqueueWebhookOptions): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Fan-out of cancel requests to every worker: BullMQ's `cancelJob` only reaches the worker process that holds the
 * job, and the API does not know which one that is.
 */
export interface CancelBus {
  publish(message: CancelEditMessage): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (message: CancelEditMessage) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
