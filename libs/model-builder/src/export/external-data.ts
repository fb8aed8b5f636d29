import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { canTranscode, DTYPE_BYTES, DType, TranscodeError, transcode } from '@step1x/tensors';
import type { TensorByteSource } from '../weights/checkpoint';

/** Where one tensor's bytes live: the three ONNX `external_data` entries of its TensorProto. */
export interface ExternalDataRef {
  /** File name relative to the .onnx file. */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export interface ExternalDataWriterOptions {
  /** The `location` written into the refs. @defaultValue the file's base name */
  readonly location?: string;
  /** Bytes read from a source per step; no larger piece of a tensor is ever held. @defaultValue 16 MiB */
  readonly chunkBytes?: number;
  /** Leave all-zero output chunks unwritten (holes; see `close`). @defaultValue true */
  readonly skipZeroChunks?: boolean;
  /** Tensors whose stored size reaches this are page-aligned. @defaultValue 1 MiB */
  readonly pageAlignFrom?: number;
  /** Alignment of large tensors: ORT memory-maps external data only at allocation-granularity offsets. @defaultValue 64 KiB */
  readonly pageAlignment?: number;
  /** Alignment of small tensors. @defaultValue 16 */
  readonly smallAlignment?: number;
  /** Called after every chunk written or skipped (progress, memory sampling). @defaultValue none */
  readonly onChunk?: (progress: ExternalDataProgress) => void;
}

export interface ExternalDataProgress {
  readonly tensorBytesDone: number;
  readonly tensorBytes: number;
  /** Bytes appended to the side file so far, alignment padding included. */
  readonly fileBytes: number;
}

export interface ExternalDataSummary {
  readonly path: string;
  readonly location: string;
  /** Final size of the side file. */
  readonly bytes: number;
  readonly tensors: number;
  /** Bytes of all-zero chunks left as holes (they read back as zeros). */
  readonly skippedZeroBytes: number;
}

const DEFAULTS = {
  chunkBytes: 16 * 1024 * 1024,
  skipZeroChunks: true,
  pageAlignFrom: 1024 * 1024,
  pageAlignment: 64 * 1024,
  smallAlignment: 16,
} as const;

export class ExternalDataError extends Error {
  readonly code = 'external_data_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'ExternalDataError';
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function isAllZero(bytes: Uint8Array): boolean {
  const aligned = bytes.byteOffset % 4 === 0;
  const words = aligned ? bytes.byteLength >>> 2 : 0;
  if (words > 0) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
    for (let i = 0; i < words; i++) if (view[i] !== 0) return false;
  }
  for (let i = words * 4; i < bytes.byteLength; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** A byte source over data already in memory (constants, tiny models, tests). */
export function memorySource(bytes: Uint8Array, dtype: DType, shape: readonly number[]): TensorByteSource {
  return {
    dtype,
    shape,
    byteLength: bytes.byteLength,
    readInto: (target, start) => target.set(bytes.subarray(start, start + target.byteLength)),
  };
}

/**
 * Appends tensors to one ONNX external-data side file. Each tensor is read from its source in fixed-size chunks,
 * converted to the target dtype chunk by chunk and written at its offset, so converting a 25 GB checkpoint holds
 * only two chunk buffers. Large tensors start on 64 KiB boundaries so ONNX Runtime can memory-map them.
 *
 * Holes: an output chunk that is entirely zero bytes (e.g. read from a sparse synthetic checkpoint, or zero
 * padding) is not written; alignment padding is never written either. `close()` sets the file length, so the
 * skipped ranges are file-system holes that read back as zeros. A negative zero is not zero bytes and is written.
 */
export class ExternalDataWriter {
  readonly location: string;
  private readonly options: Required<Omit<ExternalDataWriterOptions, 'location' | 'onChunk'>>;
  private readonly onChunk?: (progress: ExternalDataProgress) => void;
  private fd: number | undefined;
  private end = 0;
  private tensorCount = 0;
  private skippedZeroBytes = 0;
  private inBuffer = new Uint8Array(0);
  private outBuffer = new Uint8Array(0);

  constructor(
    readonly path: string,
    options: ExternalDataWriterOptions = {},
  ) {
    this.location = options.location ?? basename(path);
    this.options = {
      chunkBytes: options.chunkBytes ?? DEFAULTS.chunkBytes,
      skipZeroChunks: options.skipZeroChunks ?? DEFAULTS.skipZeroChunks,
      pageAlignFrom: options.pageAlignFrom ?? DEFAULTS.pageAlignFrom,
      pageAlignment: options.pageAlignment ?? DEFAULTS.pageAlignment,
      smallAlignment: options.smallAlignment ?? DEFAULTS.smallAlignment,
    };
    if (!(this.options.chunkBytes >= 8))
      throw new ExternalDataError(`chunkBytes must hold one element (8 bytes), got ${this.options.chunkBytes}`);
    this.onChunk = options.onChunk;
    this.fd = openSync(path, 'w');
  }

  /** Current end of the side file (the next tensor starts at or after it). */
  get size(): number {
    return this.end;
  }

  /** Appends a tensor converted to `to` (equal dtypes copy; see `transcode` for the float conversions). */
  appendTensor(source: TensorByteSource, to: DType): ExternalDataRef {
    const fd = this.requireOpen();
    const inSize = DTYPE_BYTES[source.dtype];
    const outSize = DTYPE_BYTES[to];
    if (!canTranscode(source.dtype, to)) throw new TranscodeError(`cannot store ${source.dtype} as ${to}`);
    if (source.byteLength % inSize !== 0)
      throw new ExternalDataError(`${source.byteLength} bytes are not whole ${source.dtype} elements`);
    const elements = source.byteLength / inSize;
    const length = elements * outSize;
    const offset = alignUp(
      this.end,
      length >= this.options.pageAlignFrom ? this.options.pageAlignment : this.options.smallAlignment,
    );
    const chunkElements = Math.max(1, Math.floor(this.options.chunkBytes / Math.max(inSize, outSize)));
    const copy = source.dtype === to;
    const bufferElements = Math.min(chunkElements, elements);
    this.ensureBuffers(bufferElements * inSize, copy ? 0 : bufferElements * outSize);
    for (let first = 0; first < elements; first += chunkElements) {
      const count = Math.min(chunkElements, elements - first);
      const input = this.inBuffer.subarray(0, count * inSize);
      source.readInto(input, first * inSize);
      const output = copy ? input : this.outBuffer.subarray(0, count * outSize);
      if (!copy) transcode(input, source.dtype, output, to, count);
      const position = offset + first * outSize;
      if (this.options.skipZeroChunks && isAllZero(output)) this.skippedZeroBytes += output.byteLength;
      else writeFully(fd, output, position);
      this.end = position + output.byteLength;
      this.onChunk?.({ tensorBytesDone: (first + count) * outSize, tensorBytes: length, fileBytes: this.end });
    }
    this.end = offset + length;
    this.tensorCount++;
    return { location: this.location, offset, length };
  }

  /** Appends float32 values from code, stored as F32, F16 or BF16. */
  appendFloat32(values: Float32Array, to: 'F32' | 'F16' | 'BF16' = 'F32'): ExternalDataRef {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return this.appendTensor(memorySource(bytes, 'F32', [values.length]), to);
  }

  /** Appends int64 values from code (ONNX INT64 initializers: shapes, indices). */
  appendInt64(values: BigInt64Array | readonly (number | bigint)[]): ExternalDataRef {
    const array = values instanceof BigInt64Array ? values : BigInt64Array.from(values, (v) => BigInt(v));
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    return this.appendTensor(memorySource(bytes, 'I64', [array.length]), 'I64');
  }

  /** Appends raw bytes as they are. */
  appendBytes(bytes: Uint8Array): ExternalDataRef {
    return this.appendTensor(memorySource(bytes, 'U8', [bytes.byteLength]), 'U8');
  }

  /** Sets the final length (materialising trailing holes) and closes the file. */
  close(): ExternalDataSummary {
    const fd = this.requireOpen();
    try {
      ftruncateSync(fd, this.end);
    } finally {
      closeSync(fd);
      this.fd = undefined;
      this.inBuffer = new Uint8Array(0);
      this.outBuffer = new Uint8Array(0);
    }
    return {
      path: this.path,
      location: this.location,
      bytes: this.end,
      tensors: this.tensorCount,
      skippedZeroBytes: this.skippedZeroBytes,
    };
  }

  private requireOpen(): number {
    if (this.fd === undefined) throw new ExternalDataError(`${this.path} is already closed`);
    return this.fd;
  }

  /** Grows the reusable chunk buffers; fresh ArrayBuffers are aligned for every element size. */
  private ensureBuffers(inBytes: number, outBytes: number): void {
    if (this.inBuffer.byteLength < inBytes) this.inBuffer = new Uint8Array(inBytes);
    if (this.outBuffer.byteLength < outBytes) this.outBuffer = new Uint8Array(outBytes);
  }
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  }
}
