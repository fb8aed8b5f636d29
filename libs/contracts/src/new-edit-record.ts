import { randomInt } from 'node:crypto';
import type { EditRecord, EditWebhookTarget } from './edit-object';
import type { EditRequestFields } from './edit-request.schema';

export interface NewEditRecordInit {
  id: string;
  tenantId: string;
  createdAt: Date;
  fields: EditRequestFields;
  /** Where the worker reads the input image (an upload, or the edit's own `inputs/<tenant>/<edit>`). */
  inputKey: string;
  /** The input's size when the API decoded it; null when the worker learns it (a batch item). */
  size: { width: number; height: number } | null;
  webhook: EditWebhookTarget | null;
  /** Batch items only. */
  batch?: { batchId: string; customId: string; sourceUrl: string | null };
}

/**
 * The record of an edit just accepted, the same for every route that creates edits (POST /v1/edits, batch items,
 * the OpenAI route through EditsService): queued, nothing run yet, the seed drawn now when the request left it
 * open (so the stored input says which seed ran).
 */
export function newQueuedEditRecord(init: NewEditRecordInit): EditRecord {
  const { fields } = init;
  return {
    id: init.id,
    tenantId: init.tenantId,
    status: 'queued',
    createdAt: init.createdAt.toISOString(),
    startedAt: null,
    completedAt: null,
    progress: { step: 0, total: fields.steps },
    attempts: 0,
    cancelRequested: false,
    input: {
      instruction: fields.instruction,
      seed: fields.seed ?? randomInt(0, 2 ** 32),
      steps: fields.steps,
      guidance: fields.guidance,
      size_level: fields.size_level,
      output_format: fields.output_format,
      priority: fields.priority,
      width: init.size?.width ?? null,
      height: init.size?.height ?? null,
      truncated: null,
      previews: fields.previews,
    },
    inputKey: init.inputKey,
    output: null,
    error: null,
    metadata: fields.metadata,
    webhook: init.webhook,
    ...(init.batch
      ? { batchId: init.batch.batchId, customId: init.batch.customId, sourceUrl: init.batch.sourceUrl }
      : {}),
  };
}
