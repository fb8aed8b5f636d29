import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  isTerminalStatus,
  itemWebhookOf,
  newBatchId,
  newEditId,
  newQueuedEditRecord,
  presentBatch,
  type BatchObject,
  type BatchRecord,
  type EditList,
  type EditObject,
  type EditRecord,
  type ListBatchesQuery,
  type ListEditsQuery,
  type ParsedBatchRequest,
  type UsageDay,
  type UsageQuery,
} from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { BatchRepository, EditRepository, IdempotencyStore, UploadStore } from '@step1x/edit-store';
import { BatchFinalizer, type CancelBus, type JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';
import { DEPS, type Clock, type UrlChecker } from '../api-deps';
import { CompletionWebhook } from '../edits/completion-webhook';
import { EditPresenter } from '../edits/edit-presenter';
import { canonicalJson } from '../edits/idempotency-hash';
import { uploadPrefix } from '../edits/image-intake.service';
import { EditAdmission } from '../edits/edit-admission';
import { decodeScopedCursor, encodeScopedCursor } from './batch-cursor';

export const CREATE_BATCH_ROUTE = 'POST /v1/batches';

export interface CreateBatchCommand {
  tenantId: string;
  request: ParsedBatchRequest;
  idempotencyKey: string | null;
}

/** An item check that failed, with the item's index, so the first bad item in input order is the one named. */
interface ItemRefusal {
  index: number;
  error: ApiError;
}

/**
 * Batches (CONTRACT.md "Batches", docs/ARCHITECTURE.md "Batches"): the whole batch is checked before anything is
 * stored; then the batch and all its edit records are written in one MULTI and the jobs queued with one `addBulk`.
 * Items are not downloaded or decoded here: an `image_key` is checked against its upload grant, an `image_url`
 * against the egress guard's address policy, and the worker reads (or fetches) and decodes the image.
 */
@Injectable()
export class BatchesService {
  private readonly logger = new Logger('BatchesService');
  private readonly finalizer: BatchFinalizer;

  constructor(
    @Inject(DEPS.batches) private readonly batches: BatchRepository,
    @Inject(DEPS.edits) private readonly edits: EditRepository,
    @Inject(DEPS.idempotency) private readonly idempotency: IdempotencyStore,
    @Inject(DEPS.uploads) private readonly uploads: UploadStore,
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.cancelBus) private readonly cancelBus: Pick<CancelBus, 'publish'>,
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(DEPS.urlChecker) private readonly urlChecker: UrlChecker,
    @Inject(DEPS.config) private readonly config: AppConfig,
    @Inject(DEPS.clock) private readonly clock: Clock,
    private readonly presenter: EditPresenter,
    private readonly completion: CompletionWebhook,
    private readonly admission: EditAdmission,
  ) {
    this.finalizer = new BatchFinalizer(batches, edits, objectStore, jobQueue, {
      urlTtlS: config.limits.outputUrlTtlS,
      clock,
    });
  }

  async create(command: CreateBatchCommand): Promise<{ statusCode: number; batch: BatchObject }> {
    const { tenantId, idempotencyKey } = command;
    if (idempotencyKey === null) return { statusCode: 202, batch: await this.accept(command, null) };
    const begun = await this.idempotency.begin(tenantId, idempotencyKey, newBatchId(this.clock().getTime()));
    if (begun.state === 'in_progress') {
      throw new ApiError(
        ErrorCode.IdempotencyInProgress,
        'a request with this Idempotency-Key is still being accepted',
        {
          param: 'Idempotency-Key',
          headers: { 'Retry-After': String(Math.max(1, Math.ceil(begun.retryAfterMs / 1000))) },
        },
      );
    }
    const requestHash = this.requestHash(command);
    if (begun.state === 'done') {
      if (begun.requestHash !== requestHash) {
        throw new ApiError(ErrorCode.IdempotencyConflict, 'this Idempotency-Key was used with a different request', {
          param: 'Idempotency-Key',
        });
      }
      return { statusCode: begun.statusCode, batch: await this.get(tenantId, begun.editId) };
    }
    try {
      const batch = await this.accept(command, begun);
      await this.idempotency.complete(tenantId, idempotencyKey, begun.token, {
        requestHash,
        editId: batch.id,
        statusCode: 202,
      });
      return { statusCode: 202, batch };
    } catch (error) {
      await this.idempotency.abandon(tenantId, idempotencyKey, begun.token).catch(() => undefined);
      throw error;
    }
  }

  async get(tenantId: string, batchId: string): Promise<BatchObject> {
    return this.present(await this.recordOf(tenantId, batchId));
  }

  async list(tenantId: string, query: ListBatchesQuery): Promise<EditList<BatchObject>> {
    const after = query.cursor === undefined ? null : decodeScopedCursor('batches', query.cursor);
    const page = await this.batches.list(tenantId, query.limit, after);
    return {
      data: await Promise.all(page.records.map((record) => this.present(record))),
      next_cursor: page.next ? encodeScopedCursor('batches', page.next) : null,
    };
  }

  async listEdits(tenantId: string, batchId: string, query: ListEditsQuery): Promise<EditList<EditObject>> {
    await this.recordOf(tenantId, batchId);
    const scope = `batch:${batchId}`;
    const after = query.cursor === undefined ? null : decodeScopedCursor(scope, query.cursor);
    const page = await this.batches.listEdits(batchId, tenantId, { statuses: query.status, limit: query.limit, after });
    return {
      data: await Promise.all(page.records.map((record) => this.presenter.present(record))),
      next_cursor: page.next ? encodeScopedCursor(scope, page.next) : null,
    };
  }

  /**
   * Queued items are canceled at once (one compare-and-set each, as for one edit), running ones get
   * `cancel_requested` and the cancel fan-out; once every item is terminal the batch is finalized `canceled`.
   */
  async cancel(tenantId: string, batchId: string): Promise<BatchObject> {
    const batch = await this.recordOf(tenantId, batchId);
    const notCancelable = () =>
      new ApiError(ErrorCode.NotCancelable, `the batch is already ${batch.status}`, { param: null });
    if (batch.status === 'completed' || batch.status === 'canceled') throw notCancelable();
    const { total, succeeded, failed, canceled } = batch.counts;
    if (succeeded + failed + canceled >= total) {
      // Every item is terminal: the batch is complete, only its results may not be written yet.
      await this.finalizer.finalize(batchId).catch((error) => this.logger.warn(`finalize ${batchId}: ${error}`));
      throw new ApiError(ErrorCode.NotCancelable, 'every item of the batch is already finished', { param: null });
    }
    if (!(await this.batches.requestCancel(batchId))) throw notCancelable();
    const ids = await this.batches.itemIds(batchId);
    const now = this.clock();
    const removals: string[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids.slice(i, i + 100).map(async (editId) => {
          const canceled = await this.edits.cancelQueued(editId, now);
          if (canceled.applied) {
            removals.push(editId);
            await this.completion
              .emit(canceled.record)
              .catch((error) => this.logger.error(`webhook ${editId}: ${error}`));
            return;
          }
          if (canceled.record && !isTerminalStatus(canceled.record.status)) {
            const requested = await this.edits.requestCancel(editId);
            if (requested.applied) await this.cancelBus.publish({ editId, requestedAt: now.toISOString() });
          }
        }),
      );
    }
    // Best effort, like one edit's cancel: a worker skips a canceled edit's job, the reconciler removes leftovers.
    for (let i = 0; i < removals.length; i += 100) {
      await Promise.all(
        removals.slice(i, i + 100).map((editId) => this.jobQueue.removeQueuedEdit(editId).catch(() => 'taken')),
      );
    }
    await this.finalizer.finalize(batchId).catch((error) => this.logger.warn(`finalize ${batchId}: ${error}`));
    return this.get(tenantId, batchId);
  }

  async usage(tenantId: string, query: UsageQuery): Promise<{ data: UsageDay[] }> {
    return { data: await this.batches.usage(tenantId, query.from, query.to) };
  }

  private async recordOf(tenantId: string, batchId: string): Promise<BatchRecord> {
    const record = await this.batches.getForTenant(tenantId, batchId);
    if (!record) throw new ApiError(ErrorCode.NotFound, `no batch ${batchId}`, { param: 'id' });
    return record;
  }

  private async present(record: BatchRecord): Promise<BatchObject> {
    const finalized = record.status === 'completed' || record.status === 'canceled';
    if (!finalized || !record.resultsKey) return presentBatch(record, null);
    const signed = await this.objectStore.presignGet(record.resultsKey, {
      expiresInSeconds: this.config.limits.outputUrlTtlS,
    });
    return presentBatch(record, { url: signed.url, expiresAt: signed.expiresAt.toISOString() });
  }

  private requestHash(command: CreateBatchCommand): string {
    const identity = { tenantId: command.tenantId, route: CREATE_BATCH_ROUTE, request: command.request };
    return createHash('sha256').update(canonicalJson(identity)).digest('hex');
  }

  private async accept(
    command: CreateBatchCommand,
    idempotency: { editId: string; resumed: boolean } | null,
  ): Promise<BatchObject> {
    const { tenantId, request } = command;
    if (idempotency?.resumed) {
      const existing = await this.batches.getForTenant(tenantId, idempotency.editId);
      if (existing) {
        // The first request died after storing the batch; its jobs may not all be queued (addBulk dedupes by id).
        await this.queueItems(existing.id, await this.batches.itemIds(existing.id), tenantId, this.laneOf(request));
        return this.present(existing);
      }
    }
    // Every item is an edit: QUEUE_MAX_DEPTH and TENANT_MAX_QUEUED count them all.
    await this.admission.assertRoom(tenantId, request.items.length);
    if (request.webhook) await this.urlChecker.check(request.webhook.url);
    await this.checkItems(tenantId, request);

    const now = this.clock();
    const batchId = idempotency?.editId ?? newBatchId(now.getTime());
    const webhook = itemWebhookOf(request.webhook);
    const records: EditRecord[] = request.items.map((item) => {
      const id = newEditId(now.getTime());
      return newQueuedEditRecord({
        id,
        tenantId,
        createdAt: now,
        fields: item.fields,
        // An upload is read where it is; a URL is fetched by the worker into the edit's own input key.
        inputKey: item.image.kind === 'key' ? item.image.key : `inputs/${tenantId}/${id}`,
        size: null,
        webhook,
        batch: { batchId, customId: item.customId, sourceUrl: item.image.kind === 'url' ? item.image.url : null },
      });
    });
    const batch: BatchRecord = {
      id: batchId,
      tenantId,
      status: 'queued',
      createdAt: now.toISOString(),
      completedAt: null,
      counts: { total: records.length, queued: records.length, running: 0, succeeded: 0, failed: 0, canceled: 0 },
      metadata: request.metadata,
      cancelRequested: false,
      resultsKey: null,
      webhook: request.webhook,
    };
    await this.batches.create(batch, records);
    await this.queueItems(
      batchId,
      records.map((record) => record.id),
      tenantId,
      this.laneOf(request),
    );
    return presentBatch(batch, null);
  }

  private laneOf(request: ParsedBatchRequest) {
    return request.items[0]?.fields.priority ?? 'batch';
  }

  /**
   * The records are stored: a failure to queue their jobs now is repaired by the EditReconciler (it re-queues
   * active records without a job after its grace), so the batch is accepted either way.
   */
  private async queueItems(batchId: string, editIds: string[], tenantId: string, lane: 'interactive' | 'batch') {
    try {
      await this.jobQueue.enqueueEdits(editIds.map((editId) => ({ payload: { editId, tenantId }, lane })));
    } catch (error) {
      this.logger.error(`jobs of ${batchId} left for the reconciler: ${error}`);
    }
  }

  /** Every item's image source, checked concurrently; the first refusal in input order is the answer. */
  private async checkItems(tenantId: string, request: ParsedBatchRequest): Promise<void> {
    const refusals: ItemRefusal[] = [];
    const hostChecks = new Map<string, Promise<void>>();
    const grantChecks = new Map<string, Promise<void>>();
    await Promise.all(
      request.items.map(async (item, index) => {
        const param = `items[${index}].${item.image.kind === 'key' ? 'image_key' : 'image_url'}`;
        try {
          if (item.image.kind === 'key') {
            // One grant read per distinct key (many items may edit the same upload).
            let check = grantChecks.get(item.image.key);
            if (!check) grantChecks.set(item.image.key, (check = this.checkUploadGrant(tenantId, item.image.key)));
            await check;
          } else {
            // Same host and scheme resolve the same way: one address check per origin.
            const origin = new URL(item.image.url).origin;
            let check = hostChecks.get(origin);
            if (!check) hostChecks.set(origin, (check = this.urlChecker.check(item.image.url)));
            await check;
          }
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          refusals.push({
            index,
            error: new ApiError(error.code, `items[${index}]: ${error.message}`, { param, cause: error }),
          });
        }
      }),
    );
    if (refusals.length > 0) throw refusals.sort((a, b) => a.index - b.index)[0].error;
  }

  /** The caller names the item in `param` (the refusal is re-thrown per item). */
  private async checkUploadGrant(tenantId: string, key: string): Promise<void> {
    const unknown = () =>
      new ApiError(ErrorCode.InvalidRequest, 'image_key is not an upload of yours (POST /v1/uploads first)');
    if (!key.startsWith(uploadPrefix(tenantId))) throw unknown();
    const grant = await this.uploads.find(key);
    if (!grant || grant.tenantId !== tenantId) throw unknown();
  }
}
