import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FULL_MODEL_SIZE_LEVELS,
  GRAPH_SIGNATURES,
  GraphName,
  QWEN_MODELS_FORMAT,
  STEP1X_MODELS_FORMAT,
  graphFileName,
} from './model-format';
import {
  ModelFormatError,
  assertGraphSignature,
  assertQwenManifest,
  assertStep1XManifest,
  graphSignatureProblems,
  manifestSizeLevels,
} from './model-format.checks';

const step1xManifest = (patch: Record<string, unknown> = {}) => ({
  format: STEP1X_MODELS_FORMAT,
  config: { dit: {}, vae: {}, runtime: {} },
  graphs: {
    connector: graphFileName('connector'),
    dit: graphFileName('dit'),
    vae_encoder: graphFileName('vae_encoder'),
    vae_decoder: graphFileName('vae_decoder'),
  },
  ...patch,
});

const matching = (graph: GraphName) => ({
  inputNames: GRAPH_SIGNATURES[graph].inputs.map((t) => t.name),
  outputNames: GRAPH_SIGNATURES[graph].outputs.map((t) => t.name),
});

function refusal(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ModelFormatError, `expected ModelFormatError, got ${String(error)}`);
    assert.equal(error.code, 'model_format_mismatch');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('models folder manifests', () => {
  it('accepts the current format and names a wrong or missing one', () => {
    assert.equal(assertStep1XManifest(step1xManifest()).format, STEP1X_MODELS_FORMAT);
    assert.throws(
      () => assertStep1XManifest(step1xManifest({ format: 'step1x-models/0' }), 'm/manifest.json'),
      refusal(/m\/manifest\.json: format is "step1x-models\/0", this build reads "step1x-models\/1"/),
    );
    assert.throws(() => assertStep1XManifest(step1xManifest({ format: undefined })), refusal(/format is undefined/));
    assert.throws(() => assertStep1XManifest([]), refusal(/not a JSON object/));
    assert.throws(
      () => assertQwenManifest({ format: STEP1X_MODELS_FORMAT, graphs: {} }),
      refusal(new RegExp(`this build reads "${QWEN_MODELS_FORMAT}"`)),
    );
  });

  it('names every missing graph and a malformed config or size_levels', () => {
    const graphs = { connector: 'connector.onnx', dit: 'dit.onnx' };
    assert.throws(
      () => assertStep1XManifest(step1xManifest({ graphs, config: {}, size_levels: { supported: [], default: 1 } })),
      refusal(
        /graphs\.vae_encoder is missing; .*graphs\.vae_decoder is missing; .*config\.dit.*; .*size_levels must be/,
      ),
    );
    assert.throws(
      () => assertQwenManifest({ format: QWEN_MODELS_FORMAT, graphs: { qwen_vision: 'v.onnx' } }),
      refusal(/graphs\.qwen_llm is missing/),
    );
  });

  it('reads size_levels, defaulting to the full model for older manifests', () => {
    assert.deepEqual(manifestSizeLevels(assertStep1XManifest(step1xManifest())), FULL_MODEL_SIZE_LEVELS);
    const levels = { supported: [128, 256], default: 256 };
    assert.deepEqual(manifestSizeLevels(assertStep1XManifest(step1xManifest({ size_levels: levels }))), levels);
    assert.throws(
      () => assertStep1XManifest(step1xManifest({ size_levels: { supported: [128], default: 512 } })),
      refusal(/size_levels/),
    );
  });
});

describe('graph signatures', () => {
  it('accept each graph as declared, debug outputs included', () => {
    for (const graph of Object.keys(GRAPH_SIGNATURES) as GraphName[]) {
      assert.deepEqual(graphSignatureProblems(graph, matching(graph)), [], graph);
    }
    const llm = matching('qwen_llm');
    assert.deepEqual(
      graphSignatureProblems('qwen_llm', { ...llm, outputNames: [...llm.outputNames, 'inputs_embeds'] }),
      [],
    );
  });

  it('name a wrong dtype or rank where the runtime reports them, and accept an unknown rank', () => {
    const encoder = matching('vae_encoder');
    const info = (names: readonly string[], dtype: string, rank: number | null) =>
      names.map((name) => ({ name, dtype, rank }));
    assert.deepEqual(
      graphSignatureProblems('vae_encoder', {
        ...encoder,
        inputInfo: info(encoder.inputNames, 'float32', null),
        outputInfo: info(encoder.outputNames, 'float32', 4),
      }),
      [],
    );
    assert.deepEqual(
      graphSignatureProblems('vae_encoder', {
        ...encoder,
        inputInfo: info(encoder.inputNames, 'float16', 4),
        outputInfo: [...info(['latent', 'enc_mean'], 'float32', 4), ...info(['enc_logvar'], 'float32', 3)],
      }),
      [
        'input image is float16[rank 4], expected float32[rank 4]',
        'output enc_logvar is float32[rank 3], expected float32[rank 4]',
      ],
    );
  });

  it('name a renamed input, an extra input and a missing output', () => {
    const dit = matching('dit');
    const loaded = {
      inputNames: dit.inputNames.map((n) => (n === 't_vec' ? 'timesteps' : n)),
      outputNames: ['velocity_out'],
    };
    assert.deepEqual(graphSignatureProblems('dit', loaded), [
      'missing input t_vec',
      'unexpected input timesteps',
      'missing output velocity',
      'unexpected output velocity_out',
    ]);
    assert.throws(
      () => assertGraphSignature('dit', 'dit.onnx', loaded),
      refusal(
        /graph dit \(dit\.onnx\) does not match the models format: missing input t_vec; .*expected inputs img, txt/,
      ),
    );
  });
});
