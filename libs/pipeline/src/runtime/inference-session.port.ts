import type { LoadedTensorInfo } from '@step1x/model-format';

/** A dense tensor crossing the boundary to the inference runtime. */
export interface TensorData {
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

export type Feeds = Readonly<Record<string, TensorData>>;

/** One loaded model graph. Created once per worker and reused for every edit. */
export interface InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Element type and rank of each input and output, where the runtime reports them (checked at load). */
  readonly inputInfo?: readonly LoadedTensorInfo[];
  readonly outputInfo?: readonly LoadedTensorInfo[];
  run(feeds: Feeds): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /** Execution providers in order of preference. @defaultValue ['cpu'] */
  readonly executionProviders?: readonly string[];
  /** Threads inside one op; 0 lets the runtime choose. @defaultValue 0 */
  readonly intraOpThreads?: number;
  /**
   * ONNX Runtime's CPU memory arena. It never hands memory back, so a worker would stay at the high-water mark of
   * its largest edit; without it each run's buffers are freed when the run ends. @defaultValue false
   */
  readonly cpuMemArena?: boolean;
  /** Memory patterns (one planned allocation per run, keyed by input shapes). @defaultValue false */
  readonly memPattern?: boolean;
}

export type SessionFactory = (modelPath: string, options?: SessionOptions) => Promise<InferenceSession>;

export function float32(dims: readonly number[], data: Float32Array): TensorData {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected)
    throw new RangeError(`tensor of shape [${dims.join(', ')}] needs ${expected} values, got ${data.length}`);
  return { dims, data };
}

export function int64(dims: readonly number[], values: ArrayLike<number> | BigInt64Array): TensorData {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return { dims, data };
}

/** Narrows a runtime output to float32 data. */
export function asFloat32(t: TensorData, name: string): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new TypeError(`output ${name} is not float32`);
  return t.data;
}
