import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { AppConfig } from '@step1x/config';
import { ApiError, ErrorCode } from '@step1x/contracts';
import type { JobQueue, Lane, QueueLoad } from '@step1x/job-queue';
import { DEPS, type Clock } from '../api-deps';

/** The body of `GET /internal/scaling`; KEDA's metrics-api trigger reads `backlog` (docs/DEPLOY.md, "Autoscaling"). */
export interface ScalingSnapshot {
  /** Edits waiting to be taken, per lane. */
  queued: Record<Lane, number>;
  /** Edits waiting for a retry after an infrastructure error. */
  delayed: number;
  /** Edits a worker holds right now. */
  running: number;
  /** queued + delayed + running: the work the worker pool has to hold; desired workers = ceil(backlog / target). */
  backlog: number;
  /** Seconds the head of each lane has waited, and the larger of the two (null when nothing waits). */
  oldest_wait_s: Record<Lane | 'any', number | null>;
  at: string;
}

/** One definition of the backlog and the waits, for this endpoint and the `step1x_queue_backlog` gauge. */
export function toScalingSnapshot(load: QueueLoad, at: Date): ScalingSnapshot {
  const now = at.getTime();
  const waitS = (since: Date | null) => (since === null ? null : Math.max(0, (now - since.getTime()) / 1000));
  const interactive = waitS(load.oldestQueuedAt.interactive);
  const batch = waitS(load.oldestQueuedAt.batch);
  const waits = [interactive, batch].filter((w): w is number => w !== null);
  return {
    queued: { interactive: load.interactive, batch: load.batch },
    delayed: load.delayed,
    running: load.running,
    backlog: load.interactive + load.batch + load.delayed + load.running,
    oldest_wait_s: { interactive, batch, any: waits.length > 0 ? Math.max(...waits) : null },
    at: at.toISOString(),
  };
}

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * The autoscaler's view of the queue. Internal: it is served only when INTERNAL_API_TOKEN is set and only to a
 * request that carries that token, so the public ingress can route `/internal/*` to nothing and a leaked route still
 * reveals nothing (docs/DEPLOY.md, "Internal endpoints"). Without the token configured the route answers 404, as
 * if it did not exist.
 */
@ApiExcludeController()
@Controller('internal')
export class ScalingController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    @Inject(DEPS.config) config: AppConfig,
    @Inject(DEPS.jobQueue) private readonly jobQueue: JobQueue,
    @Inject(DEPS.clock) private readonly clock: Clock,
  ) {
    const token = config.auth.internalApiToken;
    this.tokenDigest = token === null ? null : digest(token);
  }

  @Get('scaling')
  async scaling(@Headers('authorization') authorization: string | undefined): Promise<ScalingSnapshot> {
    this.authorize(authorization);
    let load;
    try {
      load = await this.jobQueue.load();
    } catch (error) {
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the queue is unavailable; retry later', {
        cause: error,
        headers: { 'Retry-After': '5' },
      });
    }
    return toScalingSnapshot(load, this.clock());
  }

  private authorize(authorization: string | undefined): void {
    if (this.tokenDigest === null) throw new ApiError(ErrorCode.NotFound, 'no such route');
    const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    // Compare digests so the comparison takes the same time whatever the length of the offered token.
    if (!match || !timingSafeEqual(digest(match[1]), this.tokenDigest)) {
      throw new ApiError(ErrorCode.Unauthorized, 'send Authorization: Bearer <INTERNAL_API_TOKEN>', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
  }
}
