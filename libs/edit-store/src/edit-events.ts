/**
 * Live edit events (CONTRACT.md "Live events and previews"; docs/ARCHITECTURE.md "Live events and previews").
 * Every event of an edit is appended to a per-edit log whose ids order the edit's events; followers read the log
 * after the last id they delivered and sleep until a wake-up says the log grew. The log is the only source of
 * events, wake-ups carry no data: a lost wake-up delays an event by at most the poll interval, never loses it, and
 * replay → live needs no deduplication.
 */

/** One stored event: `id` orders the edit's events (the SSE `id:`), `data` is the event's JSON body. */
export interface StoredEditEvent {
  id: string;
  type: string;
  data: string;
}

/** The per-edit append-only event log (Redis Streams in production). */
export interface EditEventLog {
  /** Appends one event and wakes every follower of the edit; returns the event's id. */
  append(editId: string, type: string, data: string): Promise<string>;
  /** Up to `count` events strictly after `after` (null: from the first), oldest first. */
  readAfter(editId: string, after: string | null, count: number): Promise<StoredEditEvent[]>;
}

/** A registration for wake-ups of one edit; `close` must be called (it frees the registration). */
export interface EditEventWatch {
  /** Resolves at the next wake-up since the previous call (at once if one came meanwhile), or after `timeoutMs`. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export interface EditEventWakeups {
  watch(editId: string): EditEventWatch;
  /** Registrations still open (a leak check for tests and metrics). */
  readonly watching: number;
}

/** Event type that ends an edit's stream. */
export const EDIT_EVENTS_FINAL_TYPE = 'edit.completed';

/** A Redis stream id `<ms>-<seq>`, the only form `Last-Event-ID` may take. */
export function isEditEventId(text: string): boolean {
  return /^\d{1,20}-\d{1,20}$/.test(text);
}

export interface FollowOptions {
  /** Continue strictly after this event id (`Last-Event-ID`); null or absent: from the edit's first event. */
  after?: string | null;
  /** Stops the iteration (client gone); the registration is freed either way. */
  signal?: AbortSignal;
  /**
   * End when no event arrives for this long. For an edit that is already terminal when the stream opens, whose
   * log may have expired (kept EDIT_EVENTS_TTL_S, the record longer): replay what is left, then end.
   * @defaultValue never
   */
  idleEndMs?: number;
  /**
   * Asked after a poll interval without events: true when the edit is over although its `edit.completed` never
   * reached the log (a worker that died between the record's transition and the append). The iterator then reads
   * once more and ends, instead of waiting forever. @defaultValue never asked
   */
  isSettled?: () => Promise<boolean>;
}

export interface EditEventStreamOptions {
  /**
   * Longest sleep between two reads of a followed log when no wake-up comes (wake-ups are pub/sub: best effort,
   * e.g. lost while the subscriber reconnects). @defaultValue 5000
   */
  pollMs?: number;
  /** Events read per round trip. @defaultValue 100 */
  pageSize?: number;
}

/**
 * Follows an edit's events: the replay of everything after `after`, then live ones, in order, each once, ending
 * after `edit.completed`. Shared by the SSE route and any other route that streams an edit's progress.
 */
export class EditEventStream {
  private readonly pollMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly log: EditEventLog,
    private readonly wakeups: EditEventWakeups,
    options: EditEventStreamOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 5000;
    this.pageSize = options.pageSize ?? 100;
  }

  /** Followers still registered for wake-ups in this process (a leak shows here). */
  get following(): number {
    return this.wakeups.watching;
  }

  /** The first page of replay, read eagerly: a caller can fail (503) before it commits to a streamed answer. */
  async open(editId: string, options: FollowOptions = {}): Promise<AsyncGenerator<StoredEditEvent, void, undefined>> {
    // Registered before the first read: an event appended between that read and the first sleep wakes it.
    const watch = this.wakeups.watch(editId);
    let first: StoredEditEvent[];
    try {
      first = await this.log.readAfter(editId, options.after ?? null, this.pageSize);
    } catch (error) {
      watch.close();
      throw error;
    }
    return this.iterate(editId, options, watch, first);
  }

  /** `open` for callers that need no early failure: `for await (const event of stream.follow(id, { after }))`. */
  async *follow(editId: string, options: FollowOptions = {}): AsyncGenerator<StoredEditEvent, void, undefined> {
    yield* await this.open(editId, options);
  }

  private async *iterate(
    editId: string,
    options: FollowOptions,
    watch: EditEventWatch,
    first: StoredEditEvent[],
  ): AsyncGenerator<StoredEditEvent, void, undefined> {
    const signal = options.signal;
    let last = options.after ?? null;
    let page = first;
    let idleSinceMs = Date.now();
    try {
      for (;;) {
        for (const event of page) {
          last = event.id;
          yield event;
          if (event.type === EDIT_EVENTS_FINAL_TYPE) return;
        }
        if (signal?.aborted) return;
        if (page.length === this.pageSize) {
          page = await this.log.readAfter(editId, last, this.pageSize);
          continue;
        }
        if (page.length > 0) idleSinceMs = Date.now();
        let sleepMs = this.pollMs;
        if (options.idleEndMs !== undefined) {
          const leftMs = options.idleEndMs - (Date.now() - idleSinceMs);
          if (leftMs <= 0) return;
          sleepMs = Math.min(sleepMs, leftMs);
        }
        const sleptMs = Date.now();
        await watch.next(sleepMs, signal);
        if (signal?.aborted) return;
        page = await this.log.readAfter(editId, last, this.pageSize);
        const wokenByTimeout = Date.now() - sleptMs >= sleepMs;
        if (page.length === 0 && wokenByTimeout && options.isSettled && (await options.isSettled())) {
          page = await this.log.readAfter(editId, last, this.pageSize);
          for (const event of page) {
            last = event.id;
            yield event;
            if (event.type === EDIT_EVENTS_FINAL_TYPE) return;
          }
          return;
        }
      }
    } finally {
      watch.close();
    }
  }
}

/**
 * Wake-up registrations of one process, fed by one subscription (`onWake(editId)` per published message). A
 * flag per registration remembers a wake-up that came while its follower was busy, so none is missed.
 */
export class EditEventWakeupHub implements EditEventWakeups {
  private readonly byEdit = new Map<string, Set<WatchState>>();
  private count = 0;

  get watching(): number {
    return this.count;
  }

  /** Called by the subscription for every message on the channel. */
  wake(editId: string): void {
    for (const state of this.byEdit.get(editId) ?? []) {
      state.pending = true;
      state.resolve?.();
    }
  }

  watch(editId: string): EditEventWatch {
    const state: WatchState = { pending: false, resolve: null };
    let set = this.byEdit.get(editId);
    if (!set) this.byEdit.set(editId, (set = new Set()));
    set.add(state);
    this.count++;
    let closed = false;
    return {
      next: (timeoutMs, signal) =>
        new Promise<void>((resolve) => {
          if (state.pending || closed || signal?.aborted) {
            state.pending = false;
            resolve();
            return;
          }
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            state.resolve = null;
            state.pending = false;
            resolve();
          };
          const timer = setTimeout(done, timeoutMs);
          signal?.addEventListener('abort', done, { once: true });
          state.resolve = done;
        }),
      close: () => {
        if (closed) return;
        closed = true;
        state.resolve?.();
        set.delete(state);
        if (set.size === 0 && this.byEdit.get(editId) === set) this.byEdit.delete(editId);
        this.count--;
      },
    };
  }
}

interface WatchState {
  pending: boolean;
  resolve: (() => void) | null;
}
