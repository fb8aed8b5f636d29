import { closeRedisClient, duplicateRedisClient, type RedisClient } from './redis-connection';
import type { RedisKeys } from './redis-keys';
import { EditEventWakeupHub, type EditEventLog, type StoredEditEvent } from './edit-events';

/**
 * Append, cap, refresh the TTL and wake followers in one script, so a follower never sleeps through an event that
 * is in the stream. One key (the edit's stream); the channel is not a key.
 */
const APPEND_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[3], 'data', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return id
`;

export interface RedisEditEventLogOptions {
  /** EDIT_EVENTS_TTL_S: the stream lives this long after its last event. */
  ttlS: number;
  /** EDIT_EVENTS_MAX_LEN: approximate cap (XADD MAXLEN ~). */
  maxLen: number;
}

/** `EditEventLog` on one Redis stream per edit (`<prefix>:edit:<id>:events`). */
export class RedisEditEventLog implements EditEventLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisEditEventLogOptions,
  ) {}

  async append(editId: string, type: string, data: string): Promise<string> {
    return (await this.redis.eval(
      APPEND_SCRIPT,
      1,
      this.keys.editEvents(editId),
      String(this.options.maxLen),
      String(this.options.ttlS),
      type,
      data,
      this.keys.editEventsChannel(),
      editId,
    )) as string;
  }

  async readAfter(editId: string, after: string | null, count: number): Promise<StoredEditEvent[]> {
    const start = after === null ? '-' : `(${after}`;
    const entries = await this.redis.xrange(this.keys.editEvents(editId), start, '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const event: StoredEditEvent = { id, type: '', data: '' };
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'type') event.type = fields[i + 1];
        else if (fields[i] === 'data') event.data = fields[i + 1];
      }
      return event;
    });
  }
}

/**
 * The process's one subscription to the events channel, feeding an `EditEventWakeupHub`. Subscribes on the first
 * `start()`; ioredis re-subscribes after a reconnect (wake-ups lost meanwhile are covered by the followers' poll).
 */
export class RedisEditEventWakeups extends EditEventWakeupHub {
  private subscriber: RedisClient | null = null;

  constructor(
    private readonly connection: RedisClient,
    private readonly keys: RedisKeys,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    super();
  }

  /** Opens the dedicated subscriber connection (idempotent; never rejects: errors go to `onError`). */
  start(): void {
    if (this.subscriber) return;
    const subscriber = duplicateRedisClient(this.connection, 'blocking');
    this.subscriber = subscriber;
    const channel = this.keys.editEventsChannel();
    subscriber.on('message', (from: string, editId: string) => {
      if (from === channel) this.wake(editId);
    });
    subscriber.on('error', (error: unknown) => this.onError(error));
    subscriber.subscribe(channel).catch((error: unknown) => this.onError(error));
  }

  override watch(editId: string) {
    this.start();
    return super.watch(editId);
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber) await closeRedisClient(subscriber);
  }
}
