import type { EditRecord } from '@step1x/contracts';
import type { JobQueue } from '@step1x/job-queue';

export interface WorkerFairDispatchOptions {
  /** How often the worker dispatches on its own, besides taking and finishing edits. @defaultValue 1000 */
  intervalMs?: number;
  onError?: (error: unknown) => void;
  /** @defaultValue Date.now */
  now?: () => number;
}

/**
 * The worker's part in fair scheduling (docs/ARCHITECTURE.md "Fair scheduling across tenants"): when it takes an
 * edit it refills the lane with the next fair edit, so the next free slot finds one ready; when it finishes one
 * it records the run for `eta_s` and dispatches again (the finished edit no longer counts against its tenant's
 * TENANT_MAX_RUNNING). A timer dispatches too, so edits an API process queued just before it died, or hand-offs a
 * process dropped, move on within a second.
 */
export class WorkerFairDispatch {
  private readonly takenAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(
    private readonly jobs: Pick<JobQueue, 'dispatchEdits' | 'recordEditRun'>,
    private readonly getRecord: (editId: string) => Promise<EditRecord | null>,
    private readonly options: WorkerFairDispatchOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.dispatch(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async onEditJob(phase: 'taken' | 'finished', editId: string): Promise<void> {
    if (phase === 'taken') {
      this.takenAt.set(editId, this.now());
      await this.dispatch();
      return;
    }
    const takenAt = this.takenAt.get(editId);
    this.takenAt.delete(editId);
    await this.recordRun(editId, takenAt).catch((error: unknown) => this.options.onError?.(error));
    await this.dispatch();
  }

  private async recordRun(editId: string, takenAt: number | undefined): Promise<void> {
    if (takenAt === undefined) return;
    const record = await this.getRecord(editId);
    // Only complete runs measure throughput: a failed or canceled run stopped early.
    if (!record || record.status !== 'succeeded') return;
    const finishedAt = this.now();
    await this.jobs.recordEditRun({
      editId,
      sizeLevel: record.input.size_level,
      steps: record.input.steps,
      runMs: finishedAt - takenAt,
      finishedAt: new Date(finishedAt),
    });
  }

  private async dispatch(): Promise<void> {
    try {
      await this.jobs.dispatchEdits();
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
