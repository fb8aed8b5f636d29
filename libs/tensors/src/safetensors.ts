import { closeSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import { DTYPE_BYTES, DType } from './dtype';
import { toFloat32 } from './transcode';

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte offset of the tensor's data inside the file. */
  readonly offset: number;
  readonly byteLength: number;
}

/**
 * A safetensors file opened by its header only. Tensor data is read on demand, one tensor (or one slice of a
 * tensor) at a time, so a 25 GB checkpoint never has to fit in memory.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const lenBuf = Buffer.alloc(8);
      if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new Error(`${path}: not a safetensors file (too short)`);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > size) {
        throw new Error(`${path}: not a safetensors file (bad header length ${headerLen})`);
      }
      const headerBuf = Buffer.alloc(headerLen);
      readSync(fd, headerBuf, 0, headerLen, 8);
      const header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
      const dataStart = 8 + headerLen;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, entry] of Object.entries(header)) {
        if (name === '__metadata__') {
          metadata = entry as Record<string, string>;
          continue;
        }
        const { dtype, shape, data_offsets } = entry as {
          dtype: DType;
          shape: number[];
          data_offsets: [number, number];
        };
        if (!(dtype in DTYPE_BYTES)) throw new Error(`${path}: tensor ${name} has unsupported dtype ${dtype}`);
        const byteLength = data_offsets[1] - data_offsets[0];
        const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
        if (byteLength !== expected)
          throw new Error(`${path}: tensor ${name} holds ${byteLength} bytes, shape needs ${expected}`);
        if (dataStart + data_offsets[1] > size)
          throw new Error(`${path}: tensor ${name} runs past the end of the file`);
        tensors.set(name, { name, dtype, shape, offset: dataStart + data_offsets[0], byteLength });
      }
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.path}: no tensor named ${name}`);
    return info;
  }

  /** Raw bytes of a byte range inside one tensor (whole tensor by default). */
  readBytes(name: string, start = 0, end?: number): Uint8Array {
    const stop = end ?? this.info(name).byteLength;
    return this.readBytesInto(name, new Uint8Array(stop - start), start);
  }

  /**
   * Fills `target` with the tensor's bytes starting at byte `start`, so a caller converting a large tensor in
   * chunks can reuse one buffer instead of allocating per chunk.
   */
  readBytesInto(name: string, target: Uint8Array, start = 0): Uint8Array {
    const info = this.info(name);
    if (start < 0 || start + target.byteLength > info.byteLength) {
      throw new RangeError(
        `${this.path}: bytes [${start}, ${start + target.byteLength}) are outside ${name} (${info.byteLength} bytes)`,
      );
    }
    let done = 0;
    while (done < target.byteLength) {
      const n = readSync(this.fd, target, done, target.byteLength - done, info.offset + start + done);
      if (n <= 0) throw new Error(`${this.path}: short read in ${name}`);
      done += n;
    }
    return target;
  }

  readFloat32(name: string): Float32Array {
    return toFloat32(this.readBytes(name), this.info(name).dtype);
  }

  readBigInt64(name: string): BigInt64Array {
    const info = this.info(name);
    if (info.dtype !== 'I64') throw new Error(`${name} is ${info.dtype}, not I64`);
    const bytes = this.readBytes(name);
    return new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  }

  /** Integer tensors (I64/I32/I16/I8/U8/BOOL) as plain numbers. */
  readIntegers(name: string): number[] {
    const info = this.info(name);
    const bytes = this.readBytes(name);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength / DTYPE_BYTES[info.dtype];
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      switch (info.dtype) {
        case 'I64':
          out[i] = Number(view.getBigInt64(i * 8, true));
          break;
        case 'I32':
          out[i] = view.getInt32(i * 4, true);
          break;
        case 'I16':
          out[i] = view.getInt16(i * 2, true);
          break;
        case 'I8':
          out[i] = view.getInt8(i);
          break;
        case 'U8':
        case 'BOOL':
          out[i] = view.getUint8(i);
          break;
        default:
          throw new Error(`${name} is ${info.dtype}, not an integer tensor`);
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface TensorToWrite {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The data, or a producer that writes it in chunks (for files larger than memory). */
  readonly data: Uint8Array | ((write: (chunk: Uint8Array) => void) => void);
}

/** Shape and dtype of one tensor of a safetensors header. */
export interface TensorSpec {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface EncodedSafetensorsHeader {
  /** The 8-byte length prefix followed by the JSON header, padded to a multiple of 8 bytes. */
  readonly bytes: Uint8Array;
  /** Size of the data section that must follow the header. */
  readonly dataBytes: number;
}

/** Header of a safetensors file holding `tensors` back to back in the given order. */
export function encodeSafetensorsHeader(
  tensors: Iterable<readonly [string, TensorSpec]>,
  metadata?: Record<string, string>,
): EncodedSafetensorsHeader {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const bytes = new Uint8Array(8 + jsonBytes.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  bytes.set(jsonBytes, 8);
  return { bytes, dataBytes: offset };
}

/** Writes a safetensors file tensor by tensor; data producers let a multi-GB file be written in small chunks. */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const entries: [string, TensorToWrite][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, TensorToWrite>);
  const header = encodeSafetensorsHeader(entries, metadata);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header.bytes);
    for (const [name, t] of entries) {
      const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      let written = 0;
      const write = (chunk: Uint8Array) => {
        writeSync(fd, chunk);
        written += chunk.byteLength;
      };
      if (typeof t.data === 'function') t.data(write);
      else write(t.data);
      if (written !== expected) throw new Error(`tensor ${name}: wrote ${written} bytes, shape needs ${expected}`);
    }
  } finally {
    closeSync(fd);
  }
}
