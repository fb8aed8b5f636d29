import { newEditId, type EditRecord } from '@step1x/contracts';

/** A complete queued edit record for the store tests (unicode text, max seed, nested metadata). */
export function makeRecord(tenantId: string, createdAtMs: number, overrides: Partial<EditRecord> = {}): EditRecord {
  const id = newEditId(createdAtMs);
  return {
    id,
    tenantId,
    status: 'queued',
    createdAt: new Date(createdAtMs).toISOString(),
    startedAt: null,
    completedAt: null,
    progress: { step: 0, total: 28 },
    attempts: 0,
    cancelRequested: false,
    input: {
      instruction: 'add a hat — «ünïcode» 🎩',
      seed: 4_294_967_295,
      steps: 28,
      guidance: 6,
      size_level: 512,
      output_format: 'png',
      priority: 'interactive',
      width: 640,
      height: 480,
      truncated: null,
    },
    inputKey: `inputs/${tenantId}/${id}`,
    output: null,
    error: null,
    metadata: { tags: [], nested: { empty: {} }, n: 1.5 },
    webhook: null,
    ...overrides,
  };
}
