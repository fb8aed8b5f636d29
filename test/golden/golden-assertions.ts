import assert from 'node:assert/strict';
import type { CaseResult } from '@step1x/golden-checks';

/** Every case of a set passed, and there were as many as its manifest lists (never zero). */
export function assertAllPass(results: CaseResult[], expectedCases: number): void {
  assert.ok(expectedCases > 0, 'the manifest lists no case');
  assert.equal(results.length, expectedCases);
  for (const r of results) assert.ok(r.ok, `${r.case}: ${r.detail ?? ''}`);
}
