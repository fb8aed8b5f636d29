import { PassThrough, type Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ERROR_STATUS, isErrorCode, type EditObject, type EditRecord, type OutputFormat } from '@step1x/contracts';
import { decodeImage, encodeImageBytes } from '@step1x/imaging';
import type { AppConfig } from '@step1x/config';
import type { ObjectStore } from '@step1x/storage';
import { DEPS, type Clock } from '../api-deps';
import { EditPresenter } from '../edits/edit-presenter';
import { EditsService } from '../edits/edits.service';
import { EDIT_PROGRESS_SOURCE, type EditProgressSource } from './edit-progress-source';
import { seedFor, type ImageEditRequest } from './image-edit-form';
import { NO_RETRY, OpenAiRouteError, toOpenAiErrorResponse } from './openai-errors';
import {
  sizeOf,
  sseEvent,
  takesPartialImage,
  usageOf,
  type ImageEditCompletedEvent,
  type ImageEditPartialImageEvent,
  type OpenAiImage,
  type OpenAiImagesResponse,
} from './openai-images';

/** A comment line this often keeps proxies from closing a quiet stream (as GET /v1/edits/{id}/events does). */
const SSE_KEEPALIVE_MS = 15_000;

/**
 * The Idempotency-Key of image `index` of a request: each of the `n` edits is an ordinary idempotent edit of its
 * own, under a key no POST /v1/edits request can collide with.
 */
export function imageIdempotencyKey(key: string, index: number): string {
  return `openai.images.edits/${index}/${key}`;
}

/**
 * POST /v1/images/edits on top of POST /v1/edits' own service path: every image is an ordinary edit (same intake,
 * queue, lanes, limits, idempotency, receipts; visible at GET /v1/edits), and the request holds until they are
 * terminal, up to `OPENAI_SYNC_TIMEOUT_S`.
 */
@Injectable()
export class OpenAiImageEditsService {
  private readonly logger = new Logger('OpenAiImageEdits');

  constructor(
    private readonly edits: EditsService,
    private readonly presenter: EditPresenter,
    @Inject(DEPS.objectStore) private readonly objectStore: ObjectStore,
    @Inject(EDIT_PROGRESS_SOURCE) private readonly progress: EditProgressSource,
    @Inject(DEPS.config) private readonly config: AppConfig,
    @Inject(DEPS.clock) private readonly clock: Clock,
  ) {}

  /**
   * Creates the request's `n` edits in order. Seeds are consecutive: from the caller's `seed`, or from the one the
   * service drew for the first edit, so a retry with the same Idempotency-Key asks for the very same edits. When
   * edit k is refused (e.g. `queue_full`), the error names the edits already accepted.
   */
  async accept(tenantId: string, request: ImageEditRequest, idempotencyKey: string | null): Promise<EditObject[]> {
    const accepted: EditObject[] = [];
    let baseSeed = request.seed;
    try {
      for (let index = 0; index < request.n; index++) {
        const { edit } = await this.edits.create({
          tenantId,
          request: request.editRequest(index, baseSeed === null ? null : seedFor(baseSeed, index)),
          upload: request.image,
          idempotencyKey: idempotencyKey === null ? null : imageIdempotencyKey(idempotencyKey, index),
          waitSeconds: null,
        });
        accepted.push(edit);
        baseSeed ??= edit.input.seed;
      }
    } catch (error) {
      if (accepted.length === 0) throw error;
      const { status, body, headers } = toOpenAiErrorResponse(error);
      const ids = accepted.map((edit) => edit.id);
      throw new OpenAiRouteError(
        status,
        body.error.code,
        `${body.error.message} (image ${accepted.length + 1} of ${request.n}; edits already accepted: ${ids.join(', ')})`,
        { param: body.error.param, editIds: ids, headers: { ...headers, ...NO_RETRY } },
      );
    }
    return accepted;
  }

  /** Holds until every edit is terminal (or the ceiling, or the client leaves), then answers as OpenAI does. */
  async respond(
    request: ImageEditRequest,
    edits: readonly EditObject[],
    idempotent: boolean,
    clientGone: AbortSignal,
  ): Promise<OpenAiImagesResponse> {
    const ceiling = AbortSignal.timeout(this.config.openai.syncTimeoutS * 1000);
    const signal = AbortSignal.any([clientGone, ceiling]);
    const settled = await Promise.all(edits.map((edit) => this.settledRecord(edit.id, signal)));
    const ids = edits.map((edit) => edit.id);
    const records = settled.filter((record): record is EditRecord => record !== null);
    if (records.length < edits.length) throw this.stillRunning(ids, idempotent);
    const failed = records.find((record) => record.status !== 'succeeded');
    if (failed) throw editFailure(failed, ids);
    return {
      created: Math.floor(this.clock().getTime() / 1000),
      data: await Promise.all(records.map((record) => this.imageOf(record, request.responseFormat))),
      background: 'opaque',
      output_format: request.outputFormat,
      size: sizeOf(records[0]),
      usage: usageOf(records),
    };
  }

  /**
   * `stream: true`: OpenAI's server-sent events. Per edit, up to `partial_images` `image_edit.partial_image` events
   * from its previews, then `image_edit.completed` with the final image (base64, whatever `response_format`, as
   * OpenAI streams). A failed edit or the ceiling ends the stream with an `error` event in OpenAI's error shape,
   * which both official clients raise as an `APIError`.
   */
  stream(
    request: ImageEditRequest,
    edits: readonly EditObject[],
    idempotent: boolean,
    clientGone: AbortSignal,
  ): Readable {
    const out = new PassThrough();
    const write = (chunk: string) => {
      if (!out.writableEnded && !out.destroyed) out.write(chunk);
    };
    const stop = new AbortController();
    const ceiling = AbortSignal.timeout(this.config.openai.syncTimeoutS * 1000);
    const signal = AbortSignal.any([clientGone, ceiling, stop.signal]);
    out.once('close', () => stop.abort());
    const keepalive = setInterval(() => write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
    const ids = edits.map((edit) => edit.id);
    let failure: unknown = null;
    const follow = async (edit: EditObject) => {
      let partials = 0;
      for await (const event of this.progress.follow(edit.id, signal)) {
        if (event.type === 'preview') {
          if (!takesPartialImage(event.step, event.total, partials, request.partialImages)) continue;
          // A preview is a nicety: one that does not decode is skipped, the edit's result still comes.
          const image = await partialImageOf(event.jpeg, request.outputFormat).catch((error: unknown) => {
            this.logger.warn(`preview of ${edit.id} at step ${event.step} skipped: ${String(error)}`);
            return null;
          });
          if (!image) continue;
          const partial: ImageEditPartialImageEvent = {
            type: 'image_edit.partial_image',
            b64_json: image.bytes.toString('base64'),
            background: 'opaque',
            created_at: Math.floor(this.clock().getTime() / 1000),
            output_format: request.outputFormat,
            partial_image_index: partials++,
            quality: 'auto',
            size: `${image.width}x${image.height}`,
            edit_id: edit.id,
          };
          write(sseEvent(partial.type, partial));
          continue;
        }
        if (event.record.status !== 'succeeded') throw editFailure(event.record, ids);
        const completed: ImageEditCompletedEvent = {
          type: 'image_edit.completed',
          b64_json: (await this.outputBytes(event.record)).toString('base64'),
          background: 'opaque',
          created_at: Math.floor(this.clock().getTime() / 1000),
          output_format: request.outputFormat,
          quality: 'auto',
          size: sizeOf(event.record),
          usage: usageOf([event.record]),
          edit_id: edit.id,
        };
        write(sseEvent(completed.type, completed));
        return;
      }
      if (!clientGone.aborted && !stop.signal.aborted) throw this.stillRunning(ids, idempotent);
    };
    void Promise.allSettled(
      edits.map((edit) =>
        follow(edit).catch((error: unknown) => {
          failure ??= error;
          stop.abort();
        }),
      ),
    ).then(() => {
      clearInterval(keepalive);
      if (failure !== null) {
        const { status, body } = toOpenAiErrorResponse(failure);
        if (status >= 500 && !(failure instanceof OpenAiRouteError)) this.logger.error(String(failure));
        write(sseEvent('error', body));
      }
      out.end();
    });
    return out;
  }

  private stillRunning(ids: string[], idempotent: boolean): OpenAiRouteError {
    return new OpenAiRouteError(
      504,
      'edits_still_running',
      `the edits did not finish within ${this.config.openai.syncTimeoutS} s; they go on: ` +
        `GET /v1/edits/{id} for ${ids.join(', ')}`,
      // A retry with the same Idempotency-Key picks the same edits up again; one without would make new ones.
      { editIds: ids, headers: idempotent ? {} : { ...NO_RETRY } },
    );
  }

  /** The terminal record of `editId`, or null when `signal` ended the wait first. */
  private async settledRecord(editId: string, signal: AbortSignal): Promise<EditRecord | null> {
    for await (const event of this.progress.follow(editId, signal)) {
      if (event.type === 'settled') return event.record;
    }
    return null;
  }

  private async imageOf(record: EditRecord, format: ImageEditRequest['responseFormat']): Promise<OpenAiImage> {
    if (format === 'b64_json') {
      return {
        b64_json: (await this.outputBytes(record)).toString('base64'),
        revised_prompt: null,
        edit_id: record.id,
      };
    }
    const edit = await this.presenter.present(record);
    return { url: edit.output?.url ?? '', revised_prompt: null, edit_id: record.id };
  }

  private async outputBytes(record: EditRecord): Promise<Buffer> {
    if (!record.output) throw new Error(`succeeded edit ${record.id} has no output`);
    const object = await this.objectStore.get(record.output.key);
    return Buffer.concat((await object.body.toArray()) as Buffer[]);
  }
}

/**
 * A step preview (JPEG ≤ 256 px) as a partial image in the requested format, so a client that saves partial images
 * under `output_format`'s extension gets what the name says. At 256×171 on the 2-core dev machine: jpeg (decode
 * only, bytes passed through) 1.5 ms, png 5 ms, webp 12 ms, at most 3 per image.
 */
export async function partialImageOf(
  jpeg: Uint8Array,
  format: OutputFormat,
): Promise<{ bytes: Buffer; width: number; height: number }> {
  const image = await decodeImage(jpeg);
  const bytes = format === 'jpeg' ? Buffer.from(jpeg) : await encodeImageBytes(image, format);
  return { bytes, width: image.width, height: image.height };
}

/**
 * A failed edit → OpenAI's error with the edit's own code (`model_numerics`, `internal_error`, …) and its status
 * where the contract gives one (else 500); a canceled one (canceled at POST /v1/edits/{id}/cancel) → 409
 * `edit_canceled`. Neither is retried by the clients: the same input fails the same way.
 */
export function editFailure(record: EditRecord, ids: string[]): OpenAiRouteError {
  if (record.status === 'canceled') {
    return new OpenAiRouteError(409, 'edit_canceled', `edit ${record.id} was canceled`, {
      editIds: ids,
      headers: { ...NO_RETRY },
    });
  }
  const code = record.error?.code ?? 'internal_error';
  return new OpenAiRouteError(
    isErrorCode(code) ? ERROR_STATUS[code] : 500,
    code,
    `edit ${record.id} failed: ${record.error?.message ?? 'unknown error'}`,
    { editIds: ids, headers: { ...NO_RETRY } },
  );
}
