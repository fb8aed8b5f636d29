import { z } from 'zod';
import { ApiError } from './api-error';
import {
  PRIORITIES,
  WEBHOOK_EVENT_FILTERS,
  type EditOutput,
  type EditWebhookTarget,
  type WebhookEventFilter,
} from './edit-object';
import { editRequestSchema, EDIT_REQUEST_DEFAULTS, type EditRequestFields } from './edit-request.schema';
import { ErrorCode } from './error-codes';
import { ulid } from './ids';
import { apiErrorFromIssues } from './validation';

/**
 * Batches (CONTRACT.md "Batches"): many edits submitted as one unit. Every item is an ordinary edit record with
 * `batch_id` and `custom_id`; the batch record holds the counts, updated in the same Redis script as each item's
 * status transition (libs/edit-store, redis-edit-repository.ts).
 */
export const BATCH_STATUSES = ['queued', 'running', 'completed', 'canceled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export const BATCH_ID_PATTERN = /^batch_[0-9A-HJKMNP-TV-Z]{26}$/;

export function newBatchId(timeMs?: number): string {
  return `batch_${ulid(timeMs)}`;
}

export function isBatchId(value: string): boolean {
  return BATCH_ID_PATTERN.test(value);
}

export interface BatchCounts {
  total: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  canceled: number;
}

export interface BatchObject {
  id: string;
  status: BatchStatus;
  created_at: string;
  completed_at: string | null;
  counts: BatchCounts;
  metadata: Record<string, unknown> | null;
  /** Presigned GET of the results JSONL, signed afresh on every read; null until the batch is finished. */
  results_url: string | null;
  results_expires_at: string | null;
}

/** Events a batch's `webhook_events` may name: the batch's own, and `edit.*` to get every item's events too. */
export const BATCH_WEBHOOK_EVENTS = [
  'batch.completed',
  'batch.progress',
  'edit.started',
  'edit.progress',
  'edit.completed',
] as const;
export type BatchWebhookEvent = (typeof BATCH_WEBHOOK_EVENTS)[number];

export const BATCH_LIMITS = { customIdMaxLength: 64, defaultMaxItems: 1000 } as const;

/** The batch as stored (Redis hash `P:batch:<id>`). Internal: camelCase, never sent as is. */
export interface BatchRecord {
  id: string;
  tenantId: string;
  /** `completed` and `canceled` only once finalized (results written); otherwise derived from the counts. */
  status: BatchStatus;
  createdAt: string;
  completedAt: string | null;
  counts: BatchCounts;
  metadata: Record<string, unknown> | null;
  cancelRequested: boolean;
  /** S3 key of the results JSONL once finalized. */
  resultsKey: string | null;
  webhook: { url: string; events: BatchWebhookEvent[] } | null;
}

/** Presents a record: `queued` until an item started or finished, then `running`, until finalized. */
export function presentBatch(
  record: BatchRecord,
  signedResults: { url: string; expiresAt: string } | null,
): BatchObject {
  const { counts } = record;
  const finalized = record.status === 'completed' || record.status === 'canceled';
  const status: BatchStatus = finalized ? record.status : counts.queued === counts.total ? 'queued' : 'running';
  return {
    id: record.id,
    status,
    created_at: record.createdAt,
    completed_at: record.completedAt,
    counts: { ...counts },
    metadata: record.metadata,
    results_url: finalized && signedResults ? signedResults.url : null,
    results_expires_at: finalized && signedResults ? signedResults.expiresAt : null,
  };
}

/** One line of the results file, in input order. */
export interface BatchResultLine {
  custom_id: string;
  edit_id: string;
  status: string;
  /** As in the edit object, its URL presigned when the results were written (GET the edit for a fresh one). */
  output: EditOutput | null;
  error: { code: string; message: string } | null;
}

/**
 * One item: the edit fields a batch item may carry, picked from the edit request schema (one definition of the
 * edit parameters, `EDIT_PARAMS`), without defaults: a missing field takes the batch's `defaults`, then the edit's.
 */
const itemSchema = editRequestSchema
  .pick({ instruction: true, seed: true, metadata: true, image_url: true, image_key: true })
  .extend({
    custom_id: z.string().min(1).max(BATCH_LIMITS.customIdMaxLength).optional(),
    steps: editRequestSchema.shape.steps.unwrap().optional(),
    guidance: editRequestSchema.shape.guidance.unwrap().optional(),
    size_level: editRequestSchema.shape.size_level.unwrap().optional(),
    output_format: editRequestSchema.shape.output_format.unwrap().optional(),
  });

const defaultsSchema = z.strictObject({
  steps: editRequestSchema.shape.steps.unwrap().optional(),
  guidance: editRequestSchema.shape.guidance.unwrap().optional(),
  size_level: editRequestSchema.shape.size_level.unwrap().optional(),
  output_format: editRequestSchema.shape.output_format.unwrap().optional(),
  priority: z.enum(PRIORITIES).optional(),
});

/** Body of POST /v1/batches; `maxItems` is BATCH_MAX_ITEMS. */
export function batchRequestSchema(maxItems: number) {
  return z.strictObject({
    items: z.array(itemSchema).min(1).max(maxItems),
    defaults: defaultsSchema.optional(),
    webhook_url: editRequestSchema.shape.webhook_url,
    webhook_events: z
      .array(z.enum(BATCH_WEBHOOK_EVENTS))
      .max(BATCH_WEBHOOK_EVENTS.length * 4)
      .optional(),
    metadata: editRequestSchema.shape.metadata,
  });
}

export type BatchItemSource = { kind: 'url'; url: string } | { kind: 'key'; key: string };

export interface ParsedBatchItem {
  customId: string;
  /** The edit's fields with every default applied (the item's, then the batch's `defaults`, then the edit's). */
  fields: EditRequestFields;
  image: BatchItemSource;
}

export interface ParsedBatchRequest {
  items: ParsedBatchItem[];
  webhook: { url: string; events: BatchWebhookEvent[] } | null;
  metadata: Record<string, unknown> | null;
}

/** `batch.completed` is always sent when a URL is given; the list is deduplicated, in canonical order. */
function normaliseBatchEvents(events: readonly BatchWebhookEvent[] | undefined): BatchWebhookEvent[] {
  const wanted = new Set<BatchWebhookEvent>([...(events ?? []), 'batch.completed']);
  return BATCH_WEBHOOK_EVENTS.filter((event) => wanted.has(event));
}

/** The per-item webhook an item gets: only when the batch's `webhook_events` names `edit.*` types. */
export function itemWebhookOf(batch: ParsedBatchRequest['webhook']): EditWebhookTarget | null {
  if (!batch) return null;
  const named: readonly string[] = batch.events;
  const filters = WEBHOOK_EVENT_FILTERS.filter((filter) => named.includes(`edit.${filter}`));
  if (filters.length === 0) return null;
  // `completed` is always part of an edit's filter (the edit contract); naming any edit.* type opts into it.
  const events: WebhookEventFilter[] = [...new Set<WebhookEventFilter>([...filters, 'completed'])];
  return { url: batch.url, events: WEBHOOK_EVENT_FILTERS.filter((f) => events.includes(f)) };
}

/**
 * Validates the whole batch before anything is accepted: the first bad item is named in `param`
 * (`items[17].instruction`); a duplicate `custom_id` is a 400 naming the second occurrence.
 */
export function parseBatchRequest(body: unknown, maxItems: number): ParsedBatchRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(ErrorCode.InvalidRequest, 'the body must be a JSON object');
  }
  const result = batchRequestSchema(maxItems).safeParse(body, { reportInput: true });
  if (!result.success) throw apiErrorFromIssues(result.error.issues);
  const { items, defaults = {}, webhook_url, webhook_events, metadata } = result.data;
  const seen = new Set<string>();
  const parsed = items.map((item, index): ParsedBatchItem => {
    const where = `items[${index}]`;
    const sources = [item.image_url, item.image_key].filter((source) => source !== undefined).length;
    if (sources !== 1) {
      throw new ApiError(ErrorCode.InvalidRequest, `${where}: give exactly one of image_url and image_key`, {
        param: `${where}.${item.image_url !== undefined ? 'image_url' : 'image_key'}`,
      });
    }
    const customId = item.custom_id ?? String(index);
    if (seen.has(customId)) {
      throw new ApiError(ErrorCode.InvalidRequest, `${where}: custom_id "${customId}" is used twice in the batch`, {
        param: `${where}.custom_id`,
      });
    }
    seen.add(customId);
    return {
      customId,
      fields: {
        instruction: item.instruction,
        seed: item.seed,
        steps: item.steps ?? defaults.steps ?? EDIT_REQUEST_DEFAULTS.steps,
        guidance: item.guidance ?? defaults.guidance ?? EDIT_REQUEST_DEFAULTS.guidance,
        size_level: item.size_level ?? defaults.size_level ?? EDIT_REQUEST_DEFAULTS.size_level,
        output_format: item.output_format ?? defaults.output_format ?? EDIT_REQUEST_DEFAULTS.output_format,
        webhook_url: null,
        webhook_events: [],
        // A batch item has no `previews` field (CONTRACT.md "Batches"): nobody follows a batch item step by step.
        previews: false,
        priority: defaults.priority ?? 'batch',
        metadata: item.metadata,
      },
      image:
        item.image_url !== undefined ? { kind: 'url', url: item.image_url } : { kind: 'key', key: item.image_key! },
    };
  });
  return {
    items: parsed,
    webhook: webhook_url ? { url: webhook_url, events: normaliseBatchEvents(webhook_events) } : null,
    metadata,
  };
}

/** Query of GET /v1/batches: paging only. */
export const listBatchesQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, 'must be an integer')
    .optional()
    .transform((value) => (value === undefined ? 20 : Number(value)))
    .pipe(z.int().min(1).max(100)),
  cursor: z.string().min(1).max(512).optional(),
});
export type ListBatchesQuery = z.output<typeof listBatchesQuerySchema>;

/** Longest range GET /v1/usage answers in one call. */
export const USAGE_MAX_DAYS = 366;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((value) => {
    const time = Date.parse(`${value}T00:00:00Z`);
    return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === value;
  }, 'is not a calendar date');

/** Query of GET /v1/usage: `from` ≤ `to`, both UTC dates, at most `USAGE_MAX_DAYS` days. */
export const usageQuerySchema = z.strictObject({ from: isoDate, to: isoDate });

export interface UsageQuery {
  from: string;
  to: string;
}

export function parseUsageQuery(query: unknown): UsageQuery {
  const result = usageQuerySchema.safeParse(query ?? {}, { reportInput: true });
  if (!result.success) throw apiErrorFromIssues(result.error.issues);
  const { from, to } = result.data;
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days < 1) throw new ApiError(ErrorCode.InvalidRequest, '`from` is after `to`', { param: 'from' });
  if (days > USAGE_MAX_DAYS) {
    throw new ApiError(ErrorCode.OutOfRange, `at most ${USAGE_MAX_DAYS} days per request, got ${days}`, {
      param: 'to',
    });
  }
  return { from, to };
}

export interface UsageDay {
  date: string;
  edits: { succeeded: number; failed: number; canceled: number };
  worker_seconds: number;
  output_megapixels: number;
}
