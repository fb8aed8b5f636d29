import type { LoadedTensorInfo } from '@step1x/model-format';
import * as ort from 'onnxruntime-node';
import { Feeds, InferenceSession, SessionOptions, TensorData } from './inference-session.port';

/** ONNX Runtime's metadata as the format check reads it; an unknown shape (empty) is an unknown rank. */
function tensorInfo(meta: ort.InferenceSession.ValueMetadata): LoadedTensorInfo {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', rank: null };
  return { name: meta.name, dtype: meta.type, rank: meta.shape.length > 0 ? meta.shape.length : null };
}

/** ONNX Runtime adapter: the only pipeline file that imports onnxruntime-node. */
export class OrtInferenceSession implements InferenceSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(modelPath: string, options: SessionOptions = {}): Promise<OrtInferenceSession> {
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: [...(options.executionProviders ?? ['cpu'])],
      intraOpNumThreads: options.intraOpThreads ?? 0,
      graphOptimizationLevel: 'all',
      enableCpuMemArena: options.cpuMemArena ?? false,
      enableMemPattern: options.memPattern ?? false,
    });
    return new OrtInferenceSession(session);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  get inputInfo(): readonly LoadedTensorInfo[] {
    return this.session.inputMetadata.map(tensorInfo);
  }

  get outputInfo(): readonly LoadedTensorInfo[] {
    return this.session.outputMetadata.map(tensorInfo);
  }

  async run(feeds: Feeds): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(t.data instanceof Float32Array ? 'float32' : 'int64', t.data, [...t.dims]);
    }
    const results = await this.session.run(ortFeeds);
    const out: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(results)) {
      const data = t.data;
      if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array))
        throw new TypeError(`output ${name} has type ${t.type}`);
      out[name] = { dims: t.dims, data };
      t.dispose?.();
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export const createOrtSession = (modelPath: string, options?: SessionOptions) =>
  OrtInferenceSession.create(modelPath, options);
