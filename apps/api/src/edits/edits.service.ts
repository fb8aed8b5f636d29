import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  isTerminalStatus,
  newEditId,
  newQueuedEditRecord,
  type EditList,
  type EditObject,
  type EditRecord,
  type ListEditsQuery,
  type ParsedEditRequest,
} from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import type { EditRepository, IdempotencyStore } from '@step1x/edit-store';
import type { CancelBus, JobQueue } from '@step1x/job-queue';
import type { ObjectStore } from '@step1x/storage';
import { DEPS, type Clock, type UrlChecker } from '../api-deps';
import { MetricsRegistry } from '../metrics/metrics-registry';
import { CompletionWebhook } from './completion-webhook';
import { EditPresenter } from './edit-presenter';
import { idempotencyRequestHash } from './idempotency-hash';
import { ImageIntakeService, type AcceptedImage, type UploadedImage } from './image-intake.service';
import { decodeListCursor, encodeListCursor } from './list-cursor';
import { EditAdmission } from './edit-admission';
import { tenantEditOrNotFound } from './tenant-edit';

export const CREATE_EDIT_ROUTE = 'POST /v1/edits';
const WAIT_POLL_MS = 200;

export interface CreateEditCommand {
  tenantId: string;
  request: ParsedEditRequest;
  upload: UploadedImage | null;
  idempotencyKey: string | null;
  /** Seconds to hold for a terminal status (`Prefer: wait`), already clamped; null for no wait. */
  waitSeconds: number | null;
  /** Aborted when the client goes away, ending a wait early. */
  signal?: AbortSignal;
}

/** The Idempotency-Key this acceptance owns (IdempotencyStore.begin). */
interface IdempotentAcceptance {
  token: string;
  editId: string;
  resumed: boolean;
}

export interface CreateEditResult {
  statusCode: number;
  edit: EditObject;
}

@Injectable()
export class EditsService {
  private readonly logger = new Logger('EditsService');

  constructor(
    @Inject(DEPS.edits) private readonly edits: EditRepository,
    @Inject(DEPS.idempotency) private readonly idempotency: IdempotencyStore,
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.cancelBus) private readonly cancelBus: Pick<CancelBus, 'publish'>,
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(DEPS.urlChecker) private readonly urlChecker: UrlChecker,
    @Inject(DEPS.config) private readonly config: AppConfig,
    @Inject(DEPS.clock) private readonly clock: Clock,
    private readonly images: ImageIntakeService,
    private readonly presenter: EditPresenter,
    private readonly completion: CompletionWebhook,
    private readonly metrics: MetricsRegistry,
    private readonly admission: EditAdmission,
  ) {}

  /** POST /v1/edits: idempotency, back-pressure, image intake, record + job, then the optional wait. */
  async create(command: CreateEditCommand): Promise<CreateEditResult> {
    const { tenantId, idempotencyKey } = command;
    if (idempotencyKey === null) return this.acceptAndWait(command, null);
    const begun = await this.idempotency.begin(tenantId, idempotencyKey, newEditId(this.clock().getTime()));
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
    if (begun.state === 'done') return this.replay(command, begun);
    try {
      return await this.acceptAndWait(command, begun);
    } catch (error) {
      await this.idempotency.abandon(tenantId, idempotencyKey, begun.token).catch(() => undefined);
      throw error;
    }
  }

  async get(tenantId: string, editId: string): Promise<EditObject> {
    return this.presenter.present(await this.recordOf(tenantId, editId));
  }

  async list(tenantId: string, query: ListEditsQuery): Promise<EditList<EditObject>> {
    const after = query.cursor === undefined ? null : decodeListCursor(query.cursor);
    const page = await this.edits.list(tenantId, { statuses: query.status, limit: query.limit, after });
    return {
      data: await Promise.all(page.records.map((record) => this.presenter.present(record))),
      next_cursor: page.next ? encodeListCursor(page.next) : null,
    };
  }

  /**
   * Queued: `canceled` at once by one compare-and-set on the record, then its job is removed from the lane, best
   * effort: a crash or a Redis error between the two leaves a job whose record is terminal, which a worker skips
   * and the worker's start-up reconciliation removes. Running: `cancel_requested`, and every worker hears it on
   * the cancel channel; the one running it stops at the next step. Terminal: 409 `not_cancelable`.
   */
  async cancel(tenantId: string, editId: string): Promise<EditObject> {
    const record = await this.recordOf(tenantId, editId);
    const notCancelable = (status: string) =>
      new ApiError(ErrorCode.NotCancelable, `the edit is already ${status}`, { param: null });
    if (isTerminalStatus(record.status)) throw notCancelable(record.status);
    if (record.status === 'queued') {
      const canceled = await this.edits.cancelQueued(editId, this.clock());
      if (canceled.applied) {
        this.metrics.editsCanceled.inc({ state: 'queued' });
        await this.jobQueue
          .removeQueuedEdit(editId)
          .catch((error) => this.logger.warn(`job of canceled ${editId} left for reconciliation: ${error}`));
        await this.completion
          .emit(canceled.record)
          .catch((error) => this.logger.error(`webhook for ${editId}: ${error}`));
        return this.presenter.present(canceled.record);
      }
    }
    const requested = await this.edits.requestCancel(editId);
    if (!requested.applied) throw notCancelable(requested.record?.status ?? 'gone');
    await this.cancelBus.publish({ editId, requestedAt: this.clock().toISOString() });
    this.metrics.editsCanceled.inc({ state: 'running' });
    return this.presenter.present(requested.record);
  }

  private async recordOf(tenantId: string, editId: string): Promise<EditRecord> {
    return tenantEditOrNotFound(this.edits, tenantId, editId);
  }

  private async replay(
    command: CreateEditCommand,
    first: { requestHash: string; editId: string; statusCode: number },
  ): Promise<CreateEditResult> {
    const image = await this.images.accept(command.tenantId, command.request.image, command.upload);
    if (this.requestHash(command, image) !== first.requestHash) {
      throw new ApiError(ErrorCode.IdempotencyConflict, 'this Idempotency-Key was used with a different request', {
        param: 'Idempotency-Key',
      });
    }
    this.metrics.idempotentReplays.inc();
    return { statusCode: first.statusCode, edit: await this.get(command.tenantId, first.editId) };
  }

  private async acceptAndWait(
    command: CreateEditCommand,
    idempotency: IdempotentAcceptance | null,
  ): Promise<CreateEditResult> {
    await this.admission.assertRoom(command.tenantId, 1);
    // Cheap refusals first: the webhook target is checked before the image is downloaded and decoded.
    if (command.request.fields.webhook_url) await this.urlChecker.check(command.request.fields.webhook_url);
    const image = await this.images.accept(command.tenantId, command.request.image, command.upload);
    const record =
      (idempotency?.resumed ? await this.resumeEdit(command.tenantId, idempotency.editId) : null) ??
      (await this.enqueue(command, image, idempotency?.editId ?? null));
    const requestHash = this.requestHash(command, image);
    const complete = (statusCode: number) =>
      idempotency && command.idempotencyKey
        ? this.idempotency.complete(command.tenantId, command.idempotencyKey, idempotency.token, {
            requestHash,
            editId: record.id,
            statusCode,
          })
        : Promise.resolve();
    await complete(202);
    if (command.waitSeconds === null || command.waitSeconds <= 0) {
      return { statusCode: 202, edit: await this.presenter.present(record) };
    }
    const settled = await this.waitForTerminal(record, command.waitSeconds, command.signal);
    const statusCode = isTerminalStatus(settled.status) ? 200 : 202;
    if (statusCode !== 202) await complete(statusCode);
    return { statusCode, edit: await this.presenter.present(settled) };
  }

  private requestHash(command: CreateEditCommand, image: AcceptedImage): string {
    return idempotencyRequestHash({
      tenantId: command.tenantId,
      route: CREATE_EDIT_ROUTE,
      fields: command.request.fields,
      imageSha256: image.sha256,
    });
  }

  /**
   * The edit an earlier request with this Idempotency-Key created before its process died (it reserved `editId`
   * but never answered), or null when it got no further than that. Its job is queued again in case the crash came
   * between the record and the job; BullMQ keeps one job per id, so this adds nothing when the job exists.
   */
  private async resumeEdit(tenantId: string, editId: string): Promise<EditRecord | null> {
    const existing = await this.edits.getForTenant(tenantId, editId);
    if (!existing) return null;
    if (existing.status === 'queued') await this.jobQueue.enqueueEdit({ editId, tenantId }, existing.input.priority);
    this.logger.log(`${editId}: taken over from a request that did not finish accepting it`);
    return existing;
  }

  /**
   * Stores the image in S3 (never in Redis), writes the record, then queues the job (job id = edit id). `reservedId`
   * is the id an Idempotency-Key reserved; otherwise a new one.
   */
  private async enqueue(
    command: CreateEditCommand,
    image: AcceptedImage,
    reservedId: string | null,
  ): Promise<EditRecord> {
    const { tenantId } = command;
    const { fields } = command.request;
    const now = this.clock();
    const id = reservedId ?? newEditId(now.getTime());
    const inputKey = `inputs/${tenantId}/${id}`;
    await this.objectStore.put(inputKey, image.bytes, {
      contentType: image.contentType,
      metadata: { tenant: tenantId, edit: id, sha256: image.sha256 },
    });
    const record = newQueuedEditRecord({
      id,
      tenantId,
      createdAt: now,
      fields,
      inputKey,
      size: { width: image.width, height: image.height },
      webhook: fields.webhook_url ? { url: fields.webhook_url, events: fields.webhook_events } : null,
    });
    await this.edits.create(record);
    try {
      await this.jobQueue.enqueueEdit({ editId: id, tenantId }, fields.priority);
    } catch (error) {
      await this.edits
        .markFailed(id, { code: 'internal_error', message: 'the edit could not be queued' }, this.clock())
        .catch(() => undefined);
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the queue is unavailable; retry later', { cause: error });
    }
    this.metrics.editsCreated.inc({ priority: fields.priority });
    return record;
  }

  private async waitForTerminal(record: EditRecord, seconds: number, signal?: AbortSignal): Promise<EditRecord> {
    const deadline = Date.now() + seconds * 1000;
    let current = record;
    while (!isTerminalStatus(current.status) && Date.now() < deadline && !signal?.aborted) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, Math.max(0, deadline - Date.now()))));
      current = (await this.edits.get(record.id)) ?? current;
    }
    return current;
  }
}
