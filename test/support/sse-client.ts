// A test client for server-sent events: fetch + the maintained `eventsource-parser`, with what the tests look at
// (events in order, comment lines, the end of the stream) and an explicit close that drops the connection.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseConnection {
  readonly status: number;
  readonly headers: Headers;
  /** Events received so far, in order. */
  readonly events: EventSourceMessage[];
  /** Comment lines received so far (heartbeats). */
  readonly comments: string[];
  /** Resolves when the server ends the stream (or the connection drops). */
  readonly ended: Promise<void>;
  /** Resolves once `predicate` holds for the events received (checked on every event). */
  waitFor(predicate: (events: readonly EventSourceMessage[]) => boolean, timeoutMs?: number): Promise<void>;
  /** The JSON error body of a refused request (status ≠ 200). */
  readonly errorBody: unknown;
  /** Drops the connection (the client goes away mid-stream). */
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((check) => check());
  let errorBody: unknown = null;
  let done = false;
  let ended: Promise<void>;
  if (response.status !== 200) {
    errorBody = await response.json();
    done = true;
    ended = Promise.resolve();
  } else {
    const parser = createParser({
      onEvent: (event) => {
        events.push(event);
        notify();
      },
      onComment: (comment) => {
        comments.push(comment);
        notify();
      },
    });
    ended = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          parser.feed(decoder.decode(chunk, { stream: true }));
        }
      } catch {
        // aborted by close()
      }
      done = true;
      notify();
    })();
  }
  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    ended,
    errorBody,
    close: () => abort.abort(),
    waitFor: (predicate, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`SSE: condition not met within ${timeoutMs} ms; events: ${events.map((e) => e.event)}`));
        }, timeoutMs);
        function check() {
          if (predicate(events)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (done) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`SSE: the stream ended first; events: ${events.map((e) => e.event)}`));
          }
        }
        waiters.add(check);
        check();
      }),
  };
}
