import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalStatus, type EditRecord } from '@step1x/contracts';
import type { EditRepository } from '@step1x/edit-store';

/** What the OpenAI-compatible routes need to hear about one running edit. */
export type EditProgressEvent =
  /** A low-resolution look at the edit mid-way (CONTRACT.md "Live events and previews"): a JPEG. */
  | { type: 'preview'; step: number; total: number; jpeg: Uint8Array }
  /** The edit reached a terminal status; always the last event. */
  | { type: 'settled'; record: EditRecord };

/**
 * The port between the OpenAI-compatible routes and the edit's live progress. `follow` yields an edit's events from
 * now on and ends after `settled`; it ends early, without an error, when `signal` aborts (a client gone, the wait
 * ceiling reached).
 *
 * `EventStreamEditProgressSource` (event-stream-progress-source.ts) follows the per-edit event stream and yields the
 * previews; `PollingEditProgressSource` reads the record and yields only `settled` (deps without an event stream, and
 * the event source's fallback). openai.providers.ts picks one.
 */
export interface EditProgressSource {
  follow(editId: string, signal: AbortSignal): AsyncIterable<EditProgressEvent>;
}

export const EDIT_PROGRESS_SOURCE = Symbol('EditProgressSource');

/** How often the polling source reads the record: the same cadence as `Prefer: wait` on POST /v1/edits. */
export const PROGRESS_POLL_MS = 200;

export class PollingEditProgressSource implements EditProgressSource {
  constructor(private readonly edits: Pick<EditRepository, 'get'>) {}

  async *follow(editId: string, signal: AbortSignal): AsyncIterable<EditProgressEvent> {
    while (!signal.aborted) {
      const record = await this.edits.get(editId);
      // A record is only gone once its retention (days) ran out: nothing to follow then.
      if (record === null) throw new Error(`edit ${editId} is gone from the store of record`);
      if (isTerminalStatus(record.status)) {
        yield { type: 'settled', record };
        return;
      }
      try {
        await sleep(PROGRESS_POLL_MS, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}
