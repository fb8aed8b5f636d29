import { ALL_JOB_NAMES, JOB_QUEUE, type JobName, type JobPayloadOf, type QueueName } from '@step1x/contracts';

/** What a handler gets besides its payload. */
export interface JobContext {
  jobId: string;
  /** 1-based attempt number (retries after infrastructure errors count up). */
  attempt: number;
  maxAttempts: number;
  /**
   * Aborted when the edit is canceled (reason `JOB_ABORT_CANCELED`) or the worker shuts down past its grace
   * period (reason `JOB_ABORT_SHUTDOWN`: the job is handed back to the queue, not failed).
   */
  signal: AbortSignal;
  /** Stored on the BullMQ job (its `progress` event); the edit record is updated separately. */
  reportProgress(progress: number | object): Promise<void>;
}

export const JOB_ABORT_CANCELED = 'canceled';
export const JOB_ABORT_SHUTDOWN = 'shutdown';

export type JobHandler<N extends JobName = JobName> = (
  payload: JobPayloadOf<N>,
  context: JobContext,
) => Promise<unknown>;

interface OnJobMetadata {
  name: JobName;
  method: string | symbol;
}

const ON_JOB = Symbol('step1x.onJob');

/**
 * Marks a service method as the handler of a job (style (c): "Where new things go / Job type"). It only records
 * metadata; `JobRegistry.fromInstances` finds it and refuses to boot on a missing or duplicate handler.
 */
export function OnJob(options: { name: JobName }): MethodDecorator {
  return (target, method) => {
    const holder = target as { [ON_JOB]?: OnJobMetadata[] };
    const own = Object.prototype.hasOwnProperty.call(holder, ON_JOB) ? holder[ON_JOB] : undefined;
    holder[ON_JOB] = [...(own ?? holder[ON_JOB] ?? []), { name: options.name, method }];
  };
}

export type JobRegistryErrorCode = 'job_handler_missing' | 'job_handler_duplicate';

/** Thrown at boot, never at 3 a.m.: it names the job and the decorator to add or remove. */
export class JobRegistryError extends Error {
  constructor(
    readonly code: JobRegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JobRegistryError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

interface Registration {
  handler: JobHandler;
  owner: string;
}

export class JobRegistry {
  private constructor(private readonly handlers: ReadonlyMap<JobName, Registration>) {}

  /**
   * Collects `@OnJob` methods of `instances`. Every name in `required` (default: all job names) needs exactly one
   * handler; a name with two handlers is refused even when not required.
   */
  static fromInstances(instances: readonly object[], required: readonly JobName[] = ALL_JOB_NAMES): JobRegistry {
    const found = new Map<JobName, Registration[]>();
    for (const instance of instances) {
      const metadata = (instance as { [ON_JOB]?: OnJobMetadata[] })[ON_JOB] ?? [];
      for (const { name, method } of metadata) {
        const fn = (instance as Record<string | symbol, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const owner = `${instance.constructor.name}.${String(method)}`;
        const handler = (fn as JobHandler).bind(instance) as JobHandler;
        found.set(name, [...(found.get(name) ?? []), { handler, owner }]);
      }
    }
    for (const [name, registrations] of found) {
      if (registrations.length > 1) {
        const owners = registrations.map((r) => r.owner).join(' and ');
        throw new JobRegistryError(
          'job_handler_duplicate',
          `job "${name}" has two handlers: ${owners}; keep one @OnJob`,
        );
      }
    }
    for (const name of required) {
      if (!found.has(name)) {
        throw new JobRegistryError(
          'job_handler_missing',
          `job "${name}" has no handler: add @OnJob({ name: '${name}' }) to a method of a registered service`,
        );
      }
    }
    return new JobRegistry(new Map([...found].map(([name, [registration]]) => [name, registration])));
  }

  handlerFor(name: string): JobHandler | undefined {
    return this.handlers.get(name as JobName)?.handler;
  }

  names(): JobName[] {
    return [...this.handlers.keys()];
  }

  /** The queues a consumer must listen on: those of the registered jobs. */
  queues(): QueueName[] {
    return [...new Set(this.names().map((name) => JOB_QUEUE[name]))];
  }
}
