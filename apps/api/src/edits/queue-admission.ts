import type { QueueDepth } from '@step1x/job-queue';

export interface QueueAdmissionOptions {
  /** QUEUE_MAX_DEPTH: queued edits (both lanes and delayed retries) at which submits are refused. */
  maxDepth: number;
  /** How long a depth read stands in for the queue while it is far from full. @defaultValue 1000 */
  freshForMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/**
 * The `queue_full` back-pressure check without reading the queue's depth on every submit (two BullMQ scripts,
 * the largest Redis cost of a submit before this). The last depth read plus the edits this process admitted
 * since is an upper bound on what this process has seen; while that bound is below QUEUE_MAX_DEPTH and the read
 * is fresh, the submit is admitted without asking Redis. Near the limit every submit reads the depth again, so a
 * single API process refuses exactly at the limit; several API processes together may overshoot it by what the
 * others admit within `freshForMs` (the limit protects the queue from unbounded growth, not an exact count).
 */
export class QueueAdmission {
  private readonly freshForMs: number;
  private readonly now: () => number;
  private lastDepth = 0;
  private readAt = -Infinity;
  private admittedSinceRead = 0;
  private reading: Promise<number> | null = null;

  constructor(
    private readonly readDepth: () => Promise<QueueDepth>,
    private readonly options: QueueAdmissionOptions,
  ) {
    this.freshForMs = options.freshForMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Admits `count` more edits (a batch admits all its items at once), or returns the depth that refuses them. */
  async admit(count = 1): Promise<{ admitted: true } | { admitted: false; depth: number }> {
    const { maxDepth } = this.options;
    if (this.now() - this.readAt < this.freshForMs && this.lastDepth + this.admittedSinceRead + count <= maxDepth) {
      this.admittedSinceRead += count;
      return { admitted: true };
    }
    const depth = await this.read();
    // Concurrent submits share one read, so count each admission against it.
    const bound = depth + this.admittedSinceRead;
    if (bound + count > maxDepth) return { admitted: false, depth: bound };
    this.admittedSinceRead += count;
    return { admitted: true };
  }

  private read(): Promise<number> {
    this.reading ??= this.readDepth()
      .then((depth) => {
        this.lastDepth = depth.total;
        this.readAt = this.now();
        this.admittedSinceRead = 0;
        return depth.total;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
