/**
 * The edit object of the HTTP API (CONTRACT.md, "The edit object") and the internal record it is presented from.
 * Public shapes are snake_case and every field is present: one that does not apply yet is null.
 */

export const EDIT_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type EditStatus = (typeof EDIT_STATUSES)[number];
export const TERMINAL_STATUSES: readonly EditStatus[] = ['succeeded', 'failed', 'canceled'];

export function isTerminalStatus(status: EditStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const PRIORITIES = ['interactive', 'batch'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const SIZE_LEVELS = [512, 768, 1024] as const;
export type SizeLevel = (typeof SIZE_LEVELS)[number];

export interface EditInput {
  instruction: string;
  seed: number;
  steps: number;
  guidance: number;
  size_level: SizeLevel;
  output_format: OutputFormat;
  priority: Priority;
  /**
   * Oriented input size in pixels (docs/MODEL.md §9: the output has this size). Null for a batch item until the
   * worker has decoded its image (batch items are not decoded at submit, docs/ARCHITECTURE.md "Batches").
   */
  width: number | null;
  height: number | null;
  /** Whether the 640-token window cut the instruction; null until the worker has tokenised it. */
  truncated: boolean | null;
  /**
   * Step previews asked for: false, true (every step) or every k steps. Always in the edit object; optional in the
   * record (older records, and record builders that predate it, mean false).
   */
  previews?: boolean | number;
}

export interface EditOutput {
  /** Presigned S3 GET, valid for a short time and signed afresh on every read. */
  url: string;
  expires_at: string;
  width: number;
  height: number;
  format: OutputFormat;
  seed: number;
  /**
   * Made by models with random, untrained weights (local mode's tiny models, tests): the image only shows that
   * the pipeline ran, it is not a meaningful edit. Always false for a production worker.
   */
  random_weights: boolean;
}

export interface EditFailure {
  code: string;
  message: string;
}

export interface EditProgress {
  step: number;
  total: number;
}

export interface EditObject {
  id: string;
  status: EditStatus;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  queue_position: number | null;
  /** Seconds until a queued edit starts or a running one ends, from measured throughput; null when unknown. */
  eta_s: number | null;
  progress: EditProgress;
  attempts: number;
  /** True once a cancel reached a running edit; it stays `running` until the worker stops at the next step. */
  cancel_requested: boolean;
  input: EditInput;
  output: EditOutput | null;
  error: EditFailure | null;
  metadata: Record<string, unknown> | null;
  /** `status`: none (no URL), pending, delivered (the `edit.completed` arrived), failed (its retries were spent). */
  webhook: EditWebhookView;
  /** The batch the edit belongs to (`batch_<ulid>`), or null for an edit created alone. */
  batch_id: string | null;
  /** The item's `custom_id` within its batch (default: its index), or null outside a batch. */
  custom_id: string | null;
  /** Where the time went, measured by the worker; null until the edit finished. */
  timings: EditTimings | null;
  /** The receipt a tenant is billed from; null until the edit finished. */
  compute: EditCompute | null;
}

export interface EditWebhookView {
  url: string | null;
  status: 'none' | 'pending' | 'delivered' | 'failed';
  /** Delivery attempts of every event of this edit so far. */
  attempts: number;
}

/** The last `edit.completed` webhook message of an edit, kept so a replay sends it again under its id. */
export interface CompletedWebhookMessage {
  /** `msg_<ulid>` (`webhook-id`). */
  messageId: string;
  /** The event's `timestamp` (ISO-8601): when the edit completed, the same on every attempt. */
  eventAt: string;
  /** Highest attempt number made so far; a replay is the next one. */
  lastAttempt: number;
}

/** CONTRACT.md "The edit object": milliseconds per stage of one finished edit (the attempt that finished it). */
export interface EditTimings {
  /** created_at → the start of the attempt that finished the edit. */
  queued_ms: number;
  /** Input download (a batch item's `image_url`), S3 read, decode and size-level resize. */
  preprocess_ms: number;
  mllm_ms: number;
  denoise_ms: number;
  /** VAE encoder (reference latent) + decoder + resize back to the source size + output encoding. */
  vae_ms: number;
  upload_ms: number;
  /** created_at → completed_at. */
  total_ms: number;
}

export interface EditCompute {
  /** Wall-clock seconds the worker spent on the attempt that finished the edit (what usage adds up). */
  worker_seconds: number;
  /** The ONNX Runtime execution provider the worker ran with (`cuda`, `cpu`, …). */
  execution_provider: string;
  /** The models folder: its manifest's model version and a sha256 over every graph file's digest. */
  model: { version: string; sha256: string };
}

/** Where the finished image lives; the URL is signed when the edit is read. */
export interface StoredEditOutput {
  key: string;
  width: number;
  height: number;
  format: OutputFormat;
  seed: number;
  /** Absent in records written before the flag existed: false. */
  randomWeights?: boolean;
}

export const WEBHOOK_EVENT_FILTERS = ['started', 'progress', 'completed', 'preview'] as const;
export type WebhookEventFilter = (typeof WEBHOOK_EVENT_FILTERS)[number];

export interface EditWebhookTarget {
  url: string;
  /** Always contains `completed`. */
  events: WebhookEventFilter[];
}

/** The store of record for one edit (Redis). Internal: camelCase, never sent as is. */
export interface EditRecord {
  id: string;
  tenantId: string;
  status: EditStatus;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  progress: EditProgress;
  attempts: number;
  cancelRequested: boolean;
  input: EditInput;
  /** S3 key of the validated input image bytes (never the bytes themselves). */
  inputKey: string;
  output: StoredEditOutput | null;
  error: EditFailure | null;
  metadata: Record<string, unknown> | null;
  webhook: EditWebhookTarget | null;
  /** Written by the webhook delivery worker; absent until its first attempt (then `pending` while a URL is set). */
  webhookDelivery?: { status: 'pending' | 'delivered' | 'failed'; attempts: number };
  /** Absent (null) outside a batch. */
  batchId?: string | null;
  customId?: string | null;
  /**
   * A batch item's `image_url`, fetched by the worker through the egress guard into `inputKey` before its first
   * run (docs/ARCHITECTURE.md "Batches"). Internal: never presented (it may carry credentials).
   */
  sourceUrl?: string | null;
  timings?: EditTimings | null;
  compute?: EditCompute | null;
}

export interface PresentEditOptions {
  /** 1-based position within the edit's lane while queued; ignored for other statuses. */
  queuePosition: number | null;
  /** Estimate for `eta_s` (queued or running only); null or absent when unknown. */
  etaS?: number | null;
  /** The freshly signed output URL; required to show `output` of a succeeded edit. */
  signedOutput: { url: string; expiresAt: string } | null;
}

/** Record → public edit object. Pure: the caller signs the output URL and asks the queue for the position. */
export function presentEdit(record: EditRecord, options: PresentEditOptions): EditObject {
  const output =
    record.output && options.signedOutput
      ? {
          url: options.signedOutput.url,
          expires_at: options.signedOutput.expiresAt,
          width: record.output.width,
          height: record.output.height,
          format: record.output.format,
          seed: record.output.seed,
          random_weights: record.output.randomWeights === true,
        }
      : null;
  return {
    id: record.id,
    status: record.status,
    created_at: record.createdAt,
    started_at: record.startedAt,
    completed_at: record.completedAt,
    queue_position: record.status === 'queued' ? options.queuePosition : null,
    eta_s: record.status === 'queued' || record.status === 'running' ? (options.etaS ?? null) : null,
    progress: { ...record.progress },
    attempts: record.attempts,
    cancel_requested: record.cancelRequested,
    input: { ...record.input, previews: record.input.previews ?? false },
    output,
    error: record.error ? { ...record.error } : null,
    metadata: record.metadata,
    webhook: presentWebhook(record),
    batch_id: record.batchId ?? null,
    custom_id: record.customId ?? null,
    timings: record.timings ? { ...record.timings } : null,
    compute: record.compute ? { ...record.compute, model: { ...record.compute.model } } : null,
  };
}

function presentWebhook(record: EditRecord): EditWebhookView {
  if (!record.webhook) return { url: null, status: 'none', attempts: 0 };
  return {
    url: record.webhook.url,
    status: record.webhookDelivery?.status ?? 'pending',
    attempts: record.webhookDelivery?.attempts ?? 0,
  };
}
