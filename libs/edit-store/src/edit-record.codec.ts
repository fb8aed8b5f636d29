import { EDIT_STATUSES, type EditRecord, type EditStatus } from '@step1x/contracts';
import type { EditListPosition, EditPatch } from './store.ports';

/**
 * An edit record as a Redis hash. `status` is stored raw so the transition script can compare it; every other
 * non-trivial field is JSON, so null round-trips as null and the hash never needs a JSON decoder in Lua.
 */
export type EditHash = Record<string, string>;

export function encodeEditRecord(record: EditRecord): EditHash {
  return {
    status: record.status,
    tenant: record.tenantId,
    created_at: record.createdAt,
    created_ms: String(Date.parse(record.createdAt)),
    input_key: record.inputKey,
    input: JSON.stringify(record.input),
    metadata: JSON.stringify(record.metadata),
    webhook: JSON.stringify(record.webhook),
    // Batch fields only where they apply, so a lone edit's hash carries nothing extra.
    ...(record.batchId ? { batch_id: record.batchId } : {}),
    ...(record.customId != null ? { custom_id: record.customId } : {}),
    ...(record.sourceUrl ? { source_url: record.sourceUrl } : {}),
    ...encodeEditPatch({
      startedAt: record.startedAt,
      completedAt: record.completedAt,
      progress: record.progress,
      attempts: record.attempts,
      cancelRequested: record.cancelRequested,
      output: record.output,
      error: record.error,
      truncated: record.input.truncated,
    }),
  };
}

export function encodeEditPatch(patch: EditPatch): EditHash {
  const hash: EditHash = {};
  if (patch.status !== undefined) hash.status = patch.status;
  if (patch.startedAt !== undefined) hash.started_at = JSON.stringify(patch.startedAt);
  if (patch.completedAt !== undefined) hash.completed_at = JSON.stringify(patch.completedAt);
  if (patch.progress !== undefined) hash.progress = JSON.stringify(patch.progress);
  if (patch.attempts !== undefined) hash.attempts = String(patch.attempts);
  if (patch.cancelRequested !== undefined) hash.cancel_requested = patch.cancelRequested ? '1' : '0';
  if (patch.output !== undefined) hash.output = JSON.stringify(patch.output);
  if (patch.error !== undefined) hash.error = JSON.stringify(patch.error);
  if (patch.truncated !== undefined) hash.truncated = JSON.stringify(patch.truncated);
  if (patch.timings !== undefined) hash.timings = JSON.stringify(patch.timings);
  if (patch.compute !== undefined) hash.compute = JSON.stringify(patch.compute);
  if (patch.inputSize !== undefined) hash.input_size = JSON.stringify(patch.inputSize);
  return hash;
}

export class CorruptEditRecordError extends Error {
  readonly code = 'corrupt_edit_record';
  constructor(editId: string, detail: string) {
    super(`edit record ${editId} is unreadable: ${detail}`);
    this.name = 'CorruptEditRecordError';
  }
}

function json<T>(editId: string, hash: EditHash, field: string): T {
  const text = hash[field];
  if (text === undefined) throw new CorruptEditRecordError(editId, `field ${field} is missing`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CorruptEditRecordError(editId, `field ${field} is not JSON`);
  }
}

/** Hash → record; null for an empty hash (absent or expired key). */
export function decodeEditRecord(editId: string, hash: EditHash): EditRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const status = hash.status as EditStatus;
  if (!EDIT_STATUSES.includes(status)) throw new CorruptEditRecordError(editId, `status "${hash.status}"`);
  const input = json<EditRecord['input']>(editId, hash, 'input');
  // A batch item's size is learnt by the worker when it decodes the image.
  const size =
    hash.input_size === undefined ? null : json<{ width: number; height: number } | null>(editId, hash, 'input_size');
  return {
    id: editId,
    tenantId: hash.tenant ?? '',
    status,
    createdAt: hash.created_at ?? '',
    startedAt: json(editId, hash, 'started_at'),
    completedAt: json(editId, hash, 'completed_at'),
    progress: json(editId, hash, 'progress'),
    attempts: Number(hash.attempts ?? '0'),
    cancelRequested: hash.cancel_requested === '1',
    input: {
      ...input,
      ...(size ? { width: size.width, height: size.height } : {}),
      truncated: hash.truncated === undefined ? input.truncated : json(editId, hash, 'truncated'),
    },
    inputKey: hash.input_key ?? '',
    output: json(editId, hash, 'output'),
    error: json(editId, hash, 'error'),
    metadata: json(editId, hash, 'metadata'),
    webhook: json(editId, hash, 'webhook'),
    ...decodeWebhookDelivery(hash),
    // Optional fields appear only where written, so a lone edit's record reads back exactly as it was created.
    ...(hash.batch_id !== undefined ? { batchId: hash.batch_id } : {}),
    ...(hash.custom_id !== undefined ? { customId: hash.custom_id } : {}),
    ...(hash.source_url !== undefined ? { sourceUrl: hash.source_url } : {}),
    ...(hash.timings !== undefined ? { timings: json<EditRecord['timings']>(editId, hash, 'timings') } : {}),
    ...(hash.compute !== undefined ? { compute: json<EditRecord['compute']>(editId, hash, 'compute') } : {}),
  };
}

const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** `webhook_status` / `webhook_attempts`, written by the delivery worker (redis-webhook-state.ts). */
function decodeWebhookDelivery(hash: EditHash): Pick<EditRecord, 'webhookDelivery'> {
  const status = hash.webhook_status as (typeof WEBHOOK_DELIVERY_STATUSES)[number] | undefined;
  if (status === undefined || !WEBHOOK_DELIVERY_STATUSES.includes(status)) return {};
  return { webhookDelivery: { status, attempts: Number(hash.webhook_attempts ?? '0') } };
}

const MS_DIGITS = 15;

/** Member of the tenant index: lexicographic order = (created_at, id) order, so ZRANGEBYLEX is a keyset scan. */
export function listMember(position: EditListPosition): string {
  return `${String(position.createdAtMs).padStart(MS_DIGITS, '0')}:${position.id}`;
}

export function parseListMember(member: string): EditListPosition {
  const colon = member.indexOf(':');
  return { createdAtMs: Number(member.slice(0, colon)), id: member.slice(colon + 1) };
}
