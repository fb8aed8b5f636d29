import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DTYPE_BYTES, DType, TensorSpec, workspaceRoot } from '@step1x/tensors';
import { CheckpointError } from './weight-errors';

/** Name → dtype and shape of every tensor of a checkpoint, in file order. */
export type TensorTable = ReadonlyMap<string, TensorSpec>;

/**
 * The parameters a model expects: name → shape, or name → anything with a `shape` (so the graph builder's
 * `parameters` map can be passed as is).
 */
export type ParameterTable = ReadonlyMap<string, readonly number[] | { readonly shape: readonly number[] }>;

/** Name layouts of the Qwen table (shared/checkpoints/README.md); the DiT and VAE tables have one layout. */
export type TableLayout = 'hf5' | 'published';

export function shapeOf(entry: readonly number[] | { readonly shape: readonly number[] }): readonly number[] {
  return Array.isArray(entry) ? (entry as readonly number[]) : (entry as { readonly shape: readonly number[] }).shape;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function byteLengthOf(spec: TensorSpec): number {
  return elementCount(spec.shape) * DTYPE_BYTES[spec.dtype];
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

interface TableEntryJson {
  readonly shape: number[];
  readonly dtype: DType;
}

/**
 * Reads one of shared/checkpoints' `*.tensors.json` tables. For the Qwen table pick the name layout
 * (`published` is the released checkpoint's, `hf5` transformers 5.x's; default `published`).
 */
export function readTensorTable(path: string, layout: TableLayout = 'published'): TensorTable {
  const json = JSON.parse(readFileSync(path, 'utf8')) as {
    tensors?: Record<string, TableEntryJson>;
    hf5?: { tensors: Record<string, TableEntryJson> };
    published?: { tensors: Record<string, TableEntryJson> };
  };
  const tensors = json.tensors ?? json[layout]?.tensors;
  if (!tensors) throw new CheckpointError('checkpoint_invalid', `${path}: no tensor table (layout ${layout})`);
  const table = new Map<string, TensorSpec>();
  for (const [name, entry] of Object.entries(tensors)) {
    if (!(entry.dtype in DTYPE_BYTES))
      throw new CheckpointError('checkpoint_invalid', `${path}: ${name} has dtype ${entry.dtype}`);
    table.set(name, { dtype: entry.dtype, shape: entry.shape });
  }
  return table;
}

/** The name → shape table a strict load checks against. */
export function parameterTableOf(table: TensorTable): Map<string, readonly number[]> {
  return new Map([...table].map(([name, spec]) => [name, spec.shape]));
}

/**
 * Folder of the checkpoint tensor tables: $CHECKPOINT_TABLES_ROOT, else ../shared/checkpoints beside the
 * repository. Missing is an error, never a reason to skip.
 */
export function checkpointTablesRoot(): string {
  const env = process.env.CHECKPOINT_TABLES_ROOT;
  const root = env ? resolve(env) : join(workspaceRoot(), '..', 'shared', 'checkpoints');
  if (!existsSync(root)) {
    throw new CheckpointError(
      'checkpoint_not_found',
      `checkpoint tables not found at ${root}: set CHECKPOINT_TABLES_ROOT`,
    );
  }
  return root;
}
