import type { EditObject } from '@step1x/contracts';
import { listAllEdits, type ChaosStack } from './chaos-stack';

/** One row of the chaos table. */
export interface ChaosRow {
  fault: string;
  submitted: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Accepted (2xx with an id) but not terminal at the end, missing from GET or the list, or succeeded without a stored output. */
  lost: number;
  /** Output objects written more than once for one edit, plus extra edits for one Idempotency-Key. */
  duplicated: number;
  notes: string;
}

/** What one fault's clients were told, checked afterwards against what the service and S3 hold. */
export class ChaosLedger {
  /** Accepted edits: id → the Idempotency-Key it was submitted with (or null). */
  readonly accepted = new Map<string, string | null>();
  /** Answers other than 2xx, by status (`network` for no answer). */
  readonly refusals = new Map<string, number>();
  readonly problems: string[] = [];

  constructor(readonly fault: string) {}

  accept(edit: EditObject, idempotencyKey: string | null = null): void {
    this.accepted.set(edit.id, idempotencyKey);
  }

  refuse(status: number | 'network'): void {
    this.refusals.set(String(status), (this.refusals.get(String(status)) ?? 0) + 1);
  }

  problem(text: string): void {
    this.problems.push(text);
  }

  refusalSummary(): string {
    return [...this.refusals].map(([status, n]) => `${n}×${status}`).join(' ');
  }
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/** Polls the list until every accepted edit of `ledger` is terminal or `timeoutMs` passes. */
export async function waitUntilTerminal(stack: ChaosStack, ledger: ChaosLedger, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const byId = await editsById(stack).catch(() => null);
    if (byId && [...ledger.accepted.keys()].every((id) => TERMINAL.has(byId.get(id)?.status ?? ''))) return;
    if (Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function editsById(stack: ChaosStack): Promise<Map<string, EditObject>> {
  return new Map((await listAllEdits(stack)).map((edit) => [edit.id, edit]));
}

/**
 * Counts the row from outside: every accepted id through GET and through the list, outputs through the S3
 * proxy's count of acknowledged PUTs, idempotency keys through the edits' own metadata in the list.
 */
export async function countRow(stack: ChaosStack, ledger: ChaosLedger, notes = ''): Promise<ChaosRow> {
  const listed = await editsById(stack);
  const row: ChaosRow = {
    fault: ledger.fault,
    submitted: ledger.accepted.size,
    succeeded: 0,
    failed: 0,
    canceled: 0,
    lost: 0,
    duplicated: 0,
    notes,
  };
  for (const id of ledger.accepted.keys()) {
    const response = await stack.call(`/v1/edits/${id}`);
    const edit = response.status === 200 ? ((await response.json()) as EditObject) : null;
    const outputPuts = stack.s3Proxy.successfulPutsUnder(`outputs/acme/${id}.`);
    if (!edit || !listed.has(id) || !TERMINAL.has(edit.status)) {
      row.lost++;
      ledger.problem(`${id}: ${edit ? edit.status : `GET ${response.status}`}${listed.has(id) ? '' : ', not listed'}`);
      continue;
    }
    if (edit.status === 'succeeded') row.succeeded++;
    if (edit.status === 'failed') {
      row.failed++;
      ledger.problem(`${id} failed: ${edit.error?.code} ${edit.error?.message}`);
    }
    if (edit.status === 'canceled') row.canceled++;
    if (edit.status === 'succeeded' && outputPuts === 0) {
      row.lost++;
      ledger.problem(`${id} succeeded but S3 never acknowledged its output`);
    }
    if (outputPuts > 1) {
      row.duplicated++;
      ledger.problem(`${id}: output written ${outputPuts} times`);
    }
  }
  const keys = new Set([...ledger.accepted.values()].filter((key): key is string => key !== null));
  if (keys.size > 0) {
    const perKey = new Map<string, number>();
    for (const edit of listed.values()) {
      const key = edit.metadata?.chaos_key;
      if (typeof key === 'string' && keys.has(key)) perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    for (const [key, count] of perKey) {
      if (count > 1) {
        row.duplicated += count - 1;
        ledger.problem(`Idempotency-Key ${key}: ${count} edits`);
      }
    }
  }
  return row;
}

export function renderTable(rows: readonly ChaosRow[]): string {
  const header = ['fault', 'edits submitted', 'succeeded', 'failed', 'canceled', 'lost', 'duplicated outputs', 'notes'];
  const lines = rows.map((r) =>
    [r.fault, r.submitted, r.succeeded, r.failed, r.canceled, r.lost, r.duplicated, r.notes].map(String),
  );
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
