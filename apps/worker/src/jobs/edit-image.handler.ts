import { isEditId, JobName, NonRetryableJobError, type EditImagePayload } from '@step1x/contracts';
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
  return { editId: payload.editId, tenantId: payload.tenantId };
}

/** `edit-image` jobs: parse, run the edit, report the outcome (kept by BullMQ as the job's return value). */
export class EditImageHandler {
  constructor(private readonly runner: EditRunner) {}

  @OnJob({ name: JobName.EditImage })
  async handle(data: EditImagePayload, context: JobContext): Promise<{ outcome: EditRunOutcome }> {
    return { outcome: await this.runner.run(parseEditImagePayload(data), context) };
  }
}
