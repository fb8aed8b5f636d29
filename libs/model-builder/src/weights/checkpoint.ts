import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DTYPE_BYTES, DType, SafetensorsFile, toFloat32 } from '@step1x/tensors';
import { matchesAny, NamePattern } from './name-patterns';
import { elementCount, ParameterTable, shapeOf } from './tensor-table';
import { CheckpointError } from './weight-errors';

const ROWS_SUFFIX = '.nonzero_rows';
const VALUES_SUFFIX = '.nonzero_values';
const INDEX_FILE = 'model.safetensors.index.json';

/** Anything whose bytes can be read in ranges: a checkpoint tensor, or an in-memory array (see ExternalDataWriter). */
export interface TensorByteSource {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Fills `target` with bytes [start, start + target.byteLength) of the tensor (little-endian, row-major). */
  readInto(target: Uint8Array, start: number): void;
}

export interface SparseRowsLayout {
  readonly rowsName: string;
  readonly valuesName: string;
  /** How many rows are stored (the others are exactly 0). */
  readonly storedRows: number;
}

/** One tensor of a checkpoint, under the name the model uses (after renaming). */
export interface CheckpointTensor {
  readonly name: string;
  /** The name stored in the file (for a sparse tensor, the base name without `.nonzero_*`). */
  readonly storedName: string;
  readonly file: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Set for a dense tensor rebuilt from the goldens' `<name>.nonzero_rows` / `<name>.nonzero_values` pair. */
  readonly sparse?: SparseRowsLayout;
}

export interface CheckpointOpenOptions {
  /** Maps a stored name to the model's name (e.g. `renameQwenPublishedToHf5`). @defaultValue identity */
  readonly rename?: (storedName: string) => string;
  /** Tensors to leave out entirely, matched against the stored and the renamed name (e.g. `lm_head.*`). */
  readonly ignore?: readonly NamePattern[];
  /**
   * Dense shapes of sparse tensors whose file lacks the `<name>.shape` metadata entry, by renamed name. The model's
   * expected parameter table can be passed as is. @defaultValue none (a sparse tensor without a shape is an error)
   */
  readonly sparseDenseShapes?: ParameterTable;
}

interface DenseEntry {
  readonly tensor: CheckpointTensor;
  readonly file: SafetensorsFile;
}

interface SparseEntry extends DenseEntry {
  readonly rowBytes: number;
  /** stored row j holds dense row rows[j]. */
  readonly rows: readonly number[];
}

/**
 * A checkpoint seen as one name → tensor view: a single `.safetensors` file, a directory of them, or a sharded
 * `model.safetensors.index.json`. Only headers are read at open; data is read by byte range, so any tensor can be
 * streamed in chunks.
 */
export class Checkpoint {
  /** Every tensor by its (renamed) name. */
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;

  private constructor(
    readonly path: string,
    private readonly files: readonly SafetensorsFile[],
    private readonly entries: ReadonlyMap<string, DenseEntry | SparseEntry>,
    /** Renamed names the ignore list dropped. */
    readonly ignored: readonly string[],
    /** `__metadata__` of every file merged (later files win), plus the index's `metadata` values as strings. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.tensors = new Map([...entries].map(([name, e]) => [name, e.tensor]));
  }

  static open(path: string, options: CheckpointOpenOptions = {}): Checkpoint {
    const full = resolve(path);
    if (!existsSync(full)) throw new CheckpointError('checkpoint_not_found', `no checkpoint at ${full}`);
    const { files, owners, metadata } = openFiles(full);
    try {
      const { entries, ignored } = buildEntries(owners, metadata, options);
      return new Checkpoint(full, files, entries, ignored, metadata);
    } catch (err) {
      for (const f of files) f.close();
      throw err;
    }
  }

  /** Paths of the safetensors files behind this view. */
  get filePaths(): readonly string[] {
    return this.files.map((f) => f.path);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): CheckpointTensor {
    return this.entry(name).tensor;
  }

  /** Fills `target` with bytes [start, start + target.byteLength) of the tensor. */
  readBytesInto(name: string, target: Uint8Array, start = 0): Uint8Array {
    const entry = this.entry(name);
    const { tensor } = entry;
    if (start < 0 || start + target.byteLength > tensor.byteLength) {
      throw new RangeError(
        `bytes [${start}, ${start + target.byteLength}) are outside ${name} (${tensor.byteLength} bytes)`,
      );
    }
    if (!('rows' in entry)) return entry.file.readBytesInto(tensor.storedName, target, start);
    readSparseRange(entry, target, start);
    return target;
  }

  readBytes(name: string, start = 0, end?: number): Uint8Array {
    const stop = end ?? this.info(name).byteLength;
    return this.readBytesInto(name, new Uint8Array(stop - start), start);
  }

  /** The whole tensor as float32 (for small tensors: tiny models, tests). */
  readFloat32(name: string): Float32Array {
    return toFloat32(this.readBytes(name), this.info(name).dtype);
  }

  /** A byte source for ExternalDataWriter.appendTensor. */
  source(name: string): TensorByteSource {
    const { dtype, shape, byteLength } = this.info(name);
    return { dtype, shape, byteLength, readInto: (target, start) => void this.readBytesInto(name, target, start) };
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  private entry(name: string): DenseEntry | SparseEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new CheckpointError('checkpoint_tensor_not_found', `${this.path}: no tensor named ${name}`);
    return entry;
  }
}

interface OpenedFiles {
  readonly files: SafetensorsFile[];
  /** stored name → the file that holds it */
  readonly owners: Map<string, SafetensorsFile>;
  readonly metadata: Record<string, string>;
}

function openFiles(full: string): OpenedFiles {
  if (statSync(full).isDirectory()) {
    const index = join(full, INDEX_FILE);
    if (existsSync(index)) return openSharded(index);
    const names = readdirSync(full)
      .filter((n) => n.endsWith('.safetensors'))
      .sort();
    if (names.length === 0)
      throw new CheckpointError('checkpoint_not_found', `${full}: no .safetensors file in the directory`);
    return openMerged(names.map((n) => join(full, n)));
  }
  if (full.endsWith('.index.json')) return openSharded(full);
  return openMerged([full]);
}

function openAll(paths: readonly string[]): SafetensorsFile[] {
  const files: SafetensorsFile[] = [];
  try {
    for (const p of paths) {
      if (!existsSync(p)) throw new CheckpointError('checkpoint_not_found', `checkpoint file ${p} does not exist`);
      try {
        files.push(SafetensorsFile.open(p));
      } catch (err) {
        if (err instanceof CheckpointError) throw err;
        throw new CheckpointError('checkpoint_invalid', (err as Error).message);
      }
    }
    return files;
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
}

function openMerged(paths: readonly string[]): OpenedFiles {
  const files = openAll(paths);
  const owners = new Map<string, SafetensorsFile>();
  const metadata: Record<string, string> = {};
  const duplicates: string[] = [];
  for (const file of files) {
    Object.assign(metadata, file.metadata);
    for (const name of file.tensors.keys()) {
      const other = owners.get(name);
      if (other) duplicates.push(`${name} (${other.path} and ${file.path})`);
      else owners.set(name, file);
    }
  }
  if (duplicates.length > 0) {
    for (const f of files) f.close();
    throw new CheckpointError('checkpoint_duplicate_tensor', `tensors stored twice: ${duplicates.join(', ')}`);
  }
  return { files, owners, metadata };
}

function openSharded(indexPath: string): OpenedFiles {
  let index: { weight_map?: Record<string, string>; metadata?: Record<string, unknown> };
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new CheckpointError('checkpoint_invalid', `${indexPath}: ${(err as Error).message}`);
  }
  const weightMap = index.weight_map;
  if (!weightMap || typeof weightMap !== 'object') {
    throw new CheckpointError('checkpoint_invalid', `${indexPath}: no weight_map`);
  }
  const dir = dirname(indexPath);
  const shardNames = [...new Set(Object.values(weightMap))].sort();
  const files = openAll(shardNames.map((n) => join(dir, n)));
  const byShard = new Map(shardNames.map((n, i) => [n, files[i]]));
  const owners = new Map<string, SafetensorsFile>();
  const problems: string[] = [];
  for (const [name, shard] of Object.entries(weightMap)) {
    const file = byShard.get(shard)!;
    if (file.has(name)) owners.set(name, file);
    else problems.push(`${name} is mapped to ${shard}, which does not hold it`);
  }
  for (const file of files) {
    for (const name of file.tensors.keys()) {
      if (owners.get(name) !== file)
        problems.push(`${name} is stored in ${file.path} but the index maps it elsewhere or not at all`);
    }
  }
  if (problems.length > 0) {
    for (const f of files) f.close();
    throw new CheckpointError(
      'checkpoint_index_mismatch',
      `${indexPath} disagrees with its shards:\n  ${problems.join('\n  ')}`,
    );
  }
  const metadata: Record<string, string> = {};
  for (const file of files) Object.assign(metadata, file.metadata);
  for (const [k, v] of Object.entries(index.metadata ?? {})) metadata[k] = String(v);
  return { files, owners, metadata };
}

function buildEntries(
  owners: ReadonlyMap<string, SafetensorsFile>,
  metadata: Readonly<Record<string, string>>,
  options: CheckpointOpenOptions,
): { entries: Map<string, DenseEntry | SparseEntry>; ignored: string[] } {
  const rename = options.rename ?? ((n: string) => n);
  const entries = new Map<string, DenseEntry | SparseEntry>();
  const ignored: string[] = [];
  const collisions: string[] = [];
  const add = (storedName: string, make: (name: string) => DenseEntry | SparseEntry) => {
    const name = rename(storedName);
    if (matchesAny(storedName, options.ignore) || matchesAny(name, options.ignore)) {
      ignored.push(name);
      return;
    }
    const existing = entries.get(name);
    if (existing) {
      collisions.push(`${name} (from ${existing.tensor.storedName} and ${storedName})`);
      return;
    }
    entries.set(name, make(name));
  };
  for (const [storedName, file] of owners) {
    if (storedName.endsWith(VALUES_SUFFIX)) continue;
    if (storedName.endsWith(ROWS_SUFFIX)) {
      const base = storedName.slice(0, -ROWS_SUFFIX.length);
      add(base, (name) => sparseEntry(base, name, file, owners, metadata, options.sparseDenseShapes));
      continue;
    }
    const info = file.info(storedName);
    add(storedName, (name) => ({
      file,
      tensor: { name, storedName, file: file.path, dtype: info.dtype, shape: info.shape, byteLength: info.byteLength },
    }));
  }
  for (const storedName of owners.keys()) {
    if (storedName.endsWith(VALUES_SUFFIX) && !owners.has(storedName.slice(0, -VALUES_SUFFIX.length) + ROWS_SUFFIX)) {
      throw new CheckpointError('checkpoint_invalid', `${storedName} has no matching ${ROWS_SUFFIX} tensor`);
    }
  }
  if (collisions.length > 0) {
    throw new CheckpointError(
      'checkpoint_duplicate_tensor',
      `renaming maps two tensors to one name: ${collisions.join(', ')}`,
    );
  }
  return { entries, ignored };
}

function parseShape(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
  return parsed as number[];
}

/**
 * The goldens' sparse embedding (golden/qwen25vl-tiny/README.md): `W = zeros(shape); W[rows] = values`, the dense
 * shape coming from the file's `<name>.shape` metadata or from the caller.
 */
function sparseEntry(
  base: string,
  name: string,
  rowsFile: SafetensorsFile,
  owners: ReadonlyMap<string, SafetensorsFile>,
  metadata: Readonly<Record<string, string>>,
  denseShapes: ParameterTable | undefined,
): SparseEntry {
  const rowsName = base + ROWS_SUFFIX;
  const valuesName = base + VALUES_SUFFIX;
  const valuesFile = owners.get(valuesName);
  if (!valuesFile)
    throw new CheckpointError('checkpoint_invalid', `${rowsName} has no matching ${VALUES_SUFFIX} tensor`);
  if (valuesFile !== rowsFile) {
    throw new CheckpointError('checkpoint_invalid', `${rowsName} and ${valuesName} must be stored in the same file`);
  }
  const values = valuesFile.info(valuesName);
  const rows = rowsFile.readIntegers(rowsName);
  const rowsInfo = rowsFile.info(rowsName);
  if (rowsInfo.shape.length !== 1 || values.shape.length < 1 || values.shape[0] !== rows.length) {
    throw new CheckpointError(
      'checkpoint_invalid',
      `${base}: ${rows.length} rows but values of shape [${values.shape.join(', ')}]`,
    );
  }
  const given = denseShapes?.get(name);
  const shape = parseShape(metadata[`${base}.shape`]) ?? (given ? [...shapeOf(given)] : undefined);
  if (!shape) {
    throw new CheckpointError(
      'checkpoint_invalid',
      `${base} is stored sparsely and its dense shape is unknown: no "${base}.shape" metadata; pass sparseDenseShapes`,
    );
  }
  const rowShape = values.shape.slice(1);
  if (shape.length !== values.shape.length || !rowShape.every((d, i) => d === shape[i + 1])) {
    throw new CheckpointError(
      'checkpoint_invalid',
      `${base}: dense shape [${shape.join(', ')}] does not fit values [${values.shape.join(', ')}]`,
    );
  }
  const seen = new Set<number>();
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= shape[0] || seen.has(r)) {
      throw new CheckpointError('checkpoint_invalid', `${base}: row index ${r} is out of range or repeated`);
    }
    seen.add(r);
  }
  const rowBytes = elementCount(rowShape) * DTYPE_BYTES[values.dtype];
  const tensor: CheckpointTensor = {
    name,
    storedName: base,
    file: rowsFile.path,
    dtype: values.dtype,
    shape,
    byteLength: shape[0] * rowBytes,
    sparse: { rowsName, valuesName, storedRows: rows.length },
  };
  return { tensor, file: valuesFile, rows, rowBytes };
}

function readSparseRange(entry: SparseEntry, target: Uint8Array, start: number): void {
  target.fill(0);
  const end = start + target.byteLength;
  const { rowBytes, rows, file, tensor } = entry;
  for (let j = 0; j < rows.length; j++) {
    const rowStart = rows[j] * rowBytes;
    const from = Math.max(start, rowStart);
    const to = Math.min(end, rowStart + rowBytes);
    if (from >= to) continue;
    const valueOffset = j * rowBytes + (from - rowStart);
    file.readBytesInto(tensor.sparse!.valuesName, target.subarray(from - start, to - start), valueOffset);
  }
}

/** transformers 5.x (hf5) Qwen2.5-VL names → the released checkpoint's names (a pure prefix rename). */
export function renameQwenHf5ToPublished(name: string): string {
  if (name.startsWith('model.language_model.')) return 'model.' + name.slice('model.language_model.'.length);
  if (name.startsWith('model.visual.')) return 'visual.' + name.slice('model.visual.'.length);
  return name;
}

/** The released Qwen2.5-VL names → transformers 5.x names (transformers' own load-path rules). */
export function renameQwenPublishedToHf5(name: string): string {
  if (name.startsWith('visual.')) return 'model.' + name;
  if (name.startsWith('model.') && !name.startsWith('model.language_model.') && !name.startsWith('model.visual.')) {
    return 'model.language_model.' + name.slice('model.'.length);
  }
  return name;
}
