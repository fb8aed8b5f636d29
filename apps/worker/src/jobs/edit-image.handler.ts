import { DeferJobError, isEditId, JobName, NonRetryableJobError, type EditImagePayload } from '@step1x/contracts';
import { OnJob, type JobContext } from '@step1x/job-queue';
import type { EditRunner, EditRunOutcome } from '../edits/edit-runner.service';

export function parseEditImagePayload(data: unknown): EditImagePayload {
  const payload = data as Partial<EditImagePayload> | null;
  if (typeof payload?.editId !== 'string' || !isEditId(payload.editId) || typeof payload.tenantId !== 'string') {
    throw new NonRetryableJobError(
      'invalid_job_payload',
      `not an ${JobName.EditImage} payload: ${JSON.stringify(data)}`,
    );
  }
  const { modelVersion } = payload;
  return {
    editId: payload.editId,
    tenantId: payload.tenantId,
    ...(typeof modelVersion === 'string' && { modelVersion }),
  };
}

/** How long a job this worker's models cannot serve waits before a worker (maybe this one) looks at it again. */
export const MODEL_VERSION_DEFER_MS = 5000;

export interface EditImageHandlerOptions {
  /** The version of the models this worker loaded (models-version.ts); jobs stamped with another are deferred. */
  modelsVersion?: string;
  /** Told of every job deferred for its model version (log, metric). */
  onModelVersionMismatch?: (payload: EditImagePayload) => void;
}

/** `edit-image` jobs: parse, run the edit, report the outcome (kept by BullMQ as the job's return value). */
export class EditImageHandler {
  constructor(
    private readonly runner: EditRunner,
    private readonly options: EditImageHandlerOptions = {},
  ) {}

  @OnJob({ name: JobName.EditImage })
  async handle(data: EditImagePayload, context: JobContext): Promise<{ outcome: EditRunOutcome }> {
    const payload = parseEditImagePayload(data);
    const mine = this.options.modelsVersion;
    // A job queued for other models (a rolling upgrade, docs/DEPLOY.md "Upgrades") is left for a worker that has
    // them: the record stays queued and untouched, the job goes back to the queue, no attempt is spent.
    if (payload.modelVersion && mine && payload.modelVersion !== mine) {
      this.options.onModelVersionMismatch?.(payload);
      throw new DeferJobError(
        'model_version_mismatch',
        `edit ${payload.editId} wants models ${payload.modelVersion}; this worker has ${mine}`,
        MODEL_VERSION_DEFER_MS,
      );
    }
    return { outcome: await this.runner.run(payload, context) };
  }
}
