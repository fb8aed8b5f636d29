import { isTerminalStatus, type EditRecord } from '@step1x/contracts';
import type { JobQueue } from './job-queue.port';
import type { EditRepository } from '@step1x/edit-store';

export interface ReconcileOptions {
  /**
   * Records younger than this are left alone: the API writes the record before it queues the job, so a brand-new
   * `queued` record without a job is an acceptance still in flight, not an orphan. @defaultValue 60000
   */
  graceMs?: number;
  /** At most this many records and this many queued jobs are looked at per run. @defaultValue 100000 */
  limit?: number;
  /** @defaultValue () => new Date() */
  clock?: () => Date;
  /** Told about every record this run finished (canceled or failed), e.g. to send its `edit.completed`. */
  onSettled?: (record: EditRecord) => Promise<void>;
}

export interface ReconcileReport {
  /** Queued jobs whose record is terminal or gone (a cancel that stopped after marking the record). */
  removedJobs: number;
  /** Non-terminal records whose job was gone: queued again under the same job id. */
  requeued: number;
  /** Records with `cancel_requested` whose job was gone: canceled. */
  canceled: number;
  /** Records whose job had finished without settling them: failed. */
  failed: number;
}

/**
 * Brings the edit records (the store of record) and the edit queue back into agreement after a crash between two
 * steps that touch both: a cancel that marked the record but never removed the job, an acceptance that wrote the
 * record but never queued the job, a job lost with its Redis data. Every step is a compare-and-set or an
 * idempotent queue operation (job id = edit id), so several workers may reconcile at once.
 */
export class EditReconciler {
  private readonly graceMs: number;
  private readonly limit: number;
  private readonly clock: () => Date;

  constructor(
    private readonly edits: Pick<EditRepository, 'get' | 'activeEditIds' | 'transition'>,
    private readonly jobs: Pick<JobQueue, 'editJobState' | 'queuedEditIds' | 'removeQueuedEdit' | 'enqueueEdit'>,
    private readonly options: ReconcileOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 60_000;
    this.limit = options.limit ?? 100_000;
    this.clock = options.clock ?? (() => new Date());
  }

  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { removedJobs: 0, requeued: 0, canceled: 0, failed: 0 };
    for (const editId of (await this.jobs.queuedEditIds(this.limit)).slice(0, this.limit)) {
      const record = await this.edits.get(editId);
      if (record && !isTerminalStatus(record.status)) continue;
      if ((await this.jobs.removeQueuedEdit(editId)) === 'removed') report.removedJobs++;
    }
    const createdBefore = new Date(this.clock().getTime() - this.graceMs);
    for (const editId of await this.edits.activeEditIds(createdBefore, this.limit)) {
      const state = await this.jobs.editJobState(editId);
      if (state === 'queued' || state === 'active') continue;
      const record = await this.edits.get(editId);
      if (!record || isTerminalStatus(record.status)) continue;
      if (state === 'absent' && !record.cancelRequested) {
        await this.requeue(record);
        report.requeued++;
      } else if (state === 'absent') {
        if (await this.settle(record, { status: 'canceled' })) report.canceled++;
      } else {
        // The job finished (BullMQ kept it) yet the record is open: no handler will ever settle it.
        const error = { code: 'internal_error', message: 'the edit was interrupted and could not be finished' };
        if (await this.settle(record, { status: 'failed', error })) report.failed++;
      }
    }
    return report;
  }

  /** Back to `queued` (a `running` record's worker is gone with its job), then the job again. */
  private async requeue(record: EditRecord): Promise<void> {
    if (record.status === 'running') {
      await this.edits.transition(record.id, {
        from: ['running'],
        set: { status: 'queued', progress: { step: 0, total: record.input.steps } },
      });
    }
    await this.jobs.enqueueEdit({ editId: record.id, tenantId: record.tenantId }, record.input.priority);
  }

  private async settle(
    record: EditRecord,
    outcome: { status: 'canceled' } | { status: 'failed'; error: { code: string; message: string } },
  ): Promise<boolean> {
    const settled = await this.edits.transition(record.id, {
      from: ['queued', 'running'],
      set: { ...outcome, completedAt: this.clock().toISOString() },
    });
    if (!settled.applied) return false;
    await this.options.onSettled?.(settled.record);
    return true;
  }
}
