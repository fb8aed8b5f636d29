import { Controller, Get, Inject, Param, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorCode, isTerminalStatus } from '@step1x/contracts';
import type { AppConfig } from '@step1x/config';
import { isEditEventId, type EditEventStream, type EditRepository, type StoredEditEvent } from '@step1x/edit-store';
import { DEPS } from '../api-deps';
import { BearerAuthGuard, Tenant } from '../http/auth.guard';
import { MetricsRegistry } from '../metrics/metrics-registry';
import { tenantEditOrNotFound } from './tenant-edit';

/**
 * How long the stream of an edit that was already terminal when it opened waits for an event after the last one
 * before it ends: its `edit.completed` may still be on its way (the record is written first), or its log may have
 * expired (kept EDIT_EVENTS_TTL_S, the record for days).
 */
const TERMINAL_IDLE_END_MS = 2000;

const errorRef = { $ref: '#/components/schemas/Error' };

const EditEventsDoc = () => (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
  for (const decorate of [
    ApiOperation({
      summary: "Follow an edit's events (server-sent events)",
      description:
        'Replays the edit’s events so far (`edit.started`, `edit.progress`, `edit.preview`, `edit.completed`, with ' +
        'the webhook bodies as `data`), then follows live; each event has an `id:`. With `Last-Event-ID` it ' +
        'continues right after that event. A comment line every 15 s keeps proxies open; the stream ends after ' +
        '`edit.completed`. Events are kept at least 10 min after the last one.',
    }),
    ApiParam({ name: 'id', description: 'edit id (`edit_<ulid>`)' }),
    ApiHeader({ name: 'Last-Event-ID', required: false, description: 'the `id:` of the last event received' }),
    ApiProduces('text/event-stream'),
    ApiResponse({ status: 200, description: '`text/event-stream`', content: { 'text/event-stream': {} } }),
    ApiResponse({ status: 400, description: '`invalid_request` (a malformed `Last-Event-ID`)', schema: errorRef }),
    ApiResponse({ status: 401, description: '`unauthorized`', schema: errorRef }),
    ApiResponse({ status: 404, description: '`not_found`', schema: errorRef }),
    ApiResponse({ status: 503, description: '`service_unavailable`', schema: errorRef }),
  ]) {
    decorate(target, key, descriptor);
  }
};

/** One SSE frame; `data` is one line of JSON (JSON.stringify never emits a raw newline). */
export function sseFrame(event: StoredEditEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

/**
 * GET /v1/edits/{id}/events (CONTRACT.md "Live events and previews"). Every refusal (401, 404, 400, 503) is an
 * ordinary JSON error answered before the stream starts: the first page of replay is read before the headers go.
 */
@ApiTags('edits')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/edits')
export class EditEventsController {
  constructor(
    @Inject(DEPS.edits) private readonly edits: EditRepository,
    @Inject(DEPS.eventStream) private readonly stream: EditEventStream | null,
    @Inject(DEPS.config) private readonly config: AppConfig,
    metrics: MetricsRegistry,
  ) {
    const follower = this.stream;
    metrics.addGauge({
      name: 'step1x_sse_streams_open',
      help: "Event streams open on this API process; `following`: those registered for an edit's wake-ups.",
      collect: async () => [
        { labels: { state: 'open' }, value: this.open },
        { labels: { state: 'following' }, value: follower?.following ?? 0 },
      ],
    });
  }

  private open = 0;

  @Get(':id/events')
  @EditEventsDoc()
  async events(
    @Tenant() tenantId: string,
    @Param('id') editId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const after = readLastEventId(request.headers['last-event-id']);
    const record = await tenantEditOrNotFound(this.edits, tenantId, editId);
    if (!this.stream) {
      throw new ApiError(ErrorCode.ServiceUnavailable, 'live events are not available on this server');
    }
    const abort = new AbortController();
    const events = await this.stream.open(editId, {
      after,
      signal: abort.signal,
      idleEndMs: isTerminalStatus(record.status) ? TERMINAL_IDLE_END_MS : undefined,
      isSettled: async () => {
        const now = await this.edits.get(editId);
        return !now || isTerminalStatus(now.status);
      },
    });

    reply.hijack();
    this.open++;
    const raw = reply.raw;
    const onClose = () => abort.abort();
    raw.on('close', onClose);
    raw.writeHead(200, {
      ...headersOf(reply),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and friends: do not buffer the stream.
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const heartbeat = setInterval(() => {
      if (!raw.writableEnded) raw.write(': keep-alive\n\n');
    }, this.config.events.sseHeartbeatMs);
    try {
      for await (const event of events) {
        if (abort.signal.aborted) break;
        if (!raw.write(sseFrame(event))) await drained(raw, abort.signal);
      }
    } catch {
      // Redis went away mid-stream: end it; the client resumes with Last-Event-ID.
    } finally {
      clearInterval(heartbeat);
      this.open--;
      raw.off('close', onClose);
      await events.return();
      if (!raw.writableEnded) raw.end();
    }
  }
}

function readLastEventId(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const value = (Array.isArray(header) ? header[header.length - 1] : header).trim();
  if (value === '') return null;
  if (!isEditEventId(value)) {
    throw new ApiError(ErrorCode.InvalidRequest, 'Last-Event-ID must be an event id of this stream (`<ms>-<seq>`)', {
      param: 'Last-Event-ID',
    });
  }
  return value;
}

/** Headers set on the reply before it was hijacked (e.g. rate limits), which Fastify would otherwise drop. */
function headersOf(reply: FastifyReply): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return headers;
}

function drained(raw: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      raw.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    raw.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
