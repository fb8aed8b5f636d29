import { endianness } from 'node:os';
import { DTYPE_BYTES, DType, f16ToF32, f32BitsToF16 } from './dtype';

/** Float element types a weight may be converted between. */
export type FloatDType = 'F32' | 'F16' | 'BF16';

export class TranscodeError extends Error {
  readonly code = 'transcode_unsupported';
  constructor(message: string) {
    super(message);
    this.name = 'TranscodeError';
  }
}

// Typed-array views below reinterpret little-endian file bytes in host order.
const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

let bf16ToF16Lut: Uint16Array | undefined;
let f16ToF32Lut: Float32Array | undefined;

/**
 * bf16 bits → binary16 bits for all 65,536 patterns. bf16 → float32 is exact (append 16 zero bits), so one
 * round-to-nearest-even float32 → binary16 step gives the correctly rounded result; 128 KiB once beats per-element
 * branching on 12 G elements.
 */
export function bf16ToF16Table(): Uint16Array {
  if (!bf16ToF16Lut) {
    bf16ToF16Lut = new Uint16Array(65536);
    for (let bits = 0; bits < 65536; bits++) bf16ToF16Lut[bits] = f32BitsToF16((bits << 16) >>> 0);
  }
  return bf16ToF16Lut;
}

function f16ToF32Table(): Float32Array {
  if (!f16ToF32Lut) {
    f16ToF32Lut = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16ToF32Lut[bits] = f16ToF32(bits);
    // f16ToF32 returns a plain NaN; keep the payload and sign so a NaN stays the same NaN after widening.
    const u32 = new Uint32Array(f16ToF32Lut.buffer);
    for (let bits = 0; bits < 65536; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && bits & 0x3ff)
        u32[bits] = (((bits & 0x8000) << 16) | 0x7f800000 | ((bits & 0x3ff) << 13)) >>> 0;
    }
  }
  return f16ToF32Lut;
}

function view16(bytes: Uint8Array, count: number): Uint16Array {
  return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
}

function view32(bytes: Uint8Array, count: number): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
}

/** Whether `transcode` can convert `from` into `to`. */
export function canTranscode(from: DType, to: DType): boolean {
  if (from === to) return true;
  const floats: readonly DType[] = ['F32', 'F16', 'BF16'];
  return floats.includes(from) && (to === 'F32' || to === 'F16' || (from === 'F32' && to === 'BF16'));
}

/**
 * Converts `count` little-endian elements from `src` (dtype `from`) into `dst` (dtype `to`):
 * equal dtypes copy bytes; BF16 → F32 and F16 → F32 are exact; F32 → F16 and BF16 → F16 round to nearest even
 * (overflow to ±inf, tiny values to signed zero or a subnormal, NaN stays NaN); F32 → BF16 rounds to nearest even
 * (NaN stays a quiet NaN; how synthetic bf16 checkpoints are made). Both arrays must start at a
 * multiple of their element size (a fresh Uint8Array or a subarray at an aligned offset).
 */
export function transcode(src: Uint8Array, from: DType, dst: Uint8Array, to: DType, count: number): void {
  const inBytes = count * DTYPE_BYTES[from];
  const outBytes = count * DTYPE_BYTES[to];
  if (src.byteLength < inBytes || dst.byteLength < outBytes) {
    throw new RangeError(`transcode of ${count} elements needs ${inBytes} source and ${outBytes} target bytes`);
  }
  if (from === to) {
    dst.set(src.subarray(0, inBytes));
    return;
  }
  if (src.byteOffset % DTYPE_BYTES[from] !== 0 || dst.byteOffset % DTYPE_BYTES[to] !== 0) {
    throw new RangeError('transcode needs element-aligned source and target views');
  }
  if (!HOST_IS_LITTLE_ENDIAN) throw new TranscodeError('transcoding needs a little-endian host');
  const key = `${from}>${to}`;
  switch (key) {
    case 'BF16>F32': {
      const s = view16(src, count);
      const d = view32(dst, count);
      for (let i = 0; i < count; i++) d[i] = s[i] << 16;
      return;
    }
    case 'BF16>F16': {
      const lut = bf16ToF16Table();
      const s = view16(src, count);
      const d = view16(dst, count);
      for (let i = 0; i < count; i++) d[i] = lut[s[i]];
      return;
    }
    case 'F32>F16': {
      const s = view32(src, count);
      const d = view16(dst, count);
      for (let i = 0; i < count; i++) d[i] = f32BitsToF16(s[i]);
      return;
    }
    case 'F16>F32': {
      const lut = new Uint32Array(f16ToF32Table().buffer);
      const s = view16(src, count);
      const d = view32(dst, count);
      for (let i = 0; i < count; i++) d[i] = lut[s[i]];
      return;
    }
    case 'F32>BF16': {
      const s = view32(src, count);
      const d = view16(dst, count);
      for (let i = 0; i < count; i++) {
        const x = s[i];
        if ((x & 0x7fffffff) > 0x7f800000) d[i] = (x >>> 16) | 0x40;
        else d[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
      return;
    }
    default:
      throw new TranscodeError(`cannot convert ${from} to ${to}`);
  }
}

/**
 * A float tensor's raw little-endian bytes as float32 values: the same conversions as `transcode`, plus F64
 * narrowed value by value (only goldens store F64).
 */
export function toFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(count);
  if (dtype === 'F64') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
  if (!canTranscode(dtype, 'F32')) throw new TranscodeError(`cannot read ${dtype} as float32`);
  const aligned = bytes.byteOffset % DTYPE_BYTES[dtype] === 0 ? bytes : bytes.slice();
  transcode(aligned, dtype, new Uint8Array(out.buffer), 'F32', count);
  return out;
}
