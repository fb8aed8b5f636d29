import type { EditObject, WebhookEventFilter } from './edit-object';

/** `resource.past_tense`; a terminal event carries its status in `data.status` (CONTRACT.md, Webhooks). */
export const WebhookEventType = {
  EditStarted: 'edit.started',
  EditProgress: 'edit.progress',
  EditCompleted: 'edit.completed',
  /** A batch's last item is terminal (data: the batch object); once per batch. */
  BatchCompleted: 'batch.completed',
  /** A batch's counts moved (data: the batch object); at most one per 5 s per batch. */
  BatchProgress: 'batch.progress',
  /** A step preview `{ id, step, total, url, expires_at }` (not an edit object); sent only when asked for. */
  EditPreview: 'edit.preview',
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];

export const WEBHOOK_EVENT_FOR_FILTER: Readonly<Record<WebhookEventFilter, WebhookEventType>> = {
  started: WebhookEventType.EditStarted,
  progress: WebhookEventType.EditProgress,
  completed: WebhookEventType.EditCompleted,
  preview: WebhookEventType.EditPreview,
};

/** The `data` of an `edit.preview` event. */
export interface EditPreviewEventData {
  id: string;
  step: number;
  total: number;
  /** Presigned GET of `previews/<tenant>/<edit>/<step>.jpg`. */
  url: string;
  expires_at: string;
}

/**
 * Where the worker stores the JPEG of an edit's preview at `step`; deterministic, so a re-run of the edit overwrites
 * its previews. The API reads them back from here (the OpenAI route's partial images), never over the presigned URL.
 */
export function previewObjectKey(tenantId: string, editId: string, step: number): string {
  return `previews/${tenantId}/${editId}/${step}.jpg`;
}

export interface WebhookEvent {
  type: WebhookEventType;
  /** ISO-8601 UTC time the event happened. */
  timestamp: string;
  data: EditObject;
}

/** Whether a tenant's filter asks for an event type; `completed` is always sent. */
export function wantsWebhookEvent(filters: readonly WebhookEventFilter[], type: WebhookEventType): boolean {
  if (type === WebhookEventType.EditCompleted) return true;
  return filters.some((filter) => WEBHOOK_EVENT_FOR_FILTER[filter] === type);
}

export function buildWebhookEvent(type: WebhookEventType, data: EditObject, at: Date = new Date()): WebhookEvent {
  return { type, timestamp: at.toISOString(), data };
}
