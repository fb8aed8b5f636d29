// Step1XEditPipeline on real ONNX Runtime sessions (tiny models): the load-time format checks, the request check
// and the non-finite-output check, each failing with a named, coded error before or instead of a bogus result.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { EDIT_PARAMS } from '@step1x/contracts';
import { encodeImageBytes, ImageInputError, type RgbImage } from '@step1x/imaging';
import {
  DEFAULT_BUILD_OPTIONS,
  GraphBuilder,
  InMemoryWeights,
  buildStep1XModels,
  ensureTinyModels,
  namedConfig,
  randomStateDict,
  step1xParameterTables,
  writeOnnxModel,
} from '@step1x/model-builder';
import { ModelFormatError, QWEN_MANIFEST_FILE, STEP1X_MANIFEST_FILE } from '@step1x/model-format';
import {
  EditRequestError,
  ModelNumericsError,
  Step1XEditPipeline,
  createOrtSession,
  type EditRequest,
  type InferenceSession,
  type NumericsCheckpoint,
  type SessionFactory,
} from '@step1x/pipeline';

const GRAPH_FILES = ['connector', 'dit', 'vae_encoder', 'vae_decoder', 'qwen_vision', 'qwen_llm'].map(
  (g) => `${g}.onnx`,
);

function image(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 256;
  return { width, height, data };
}

const SMALL_EDIT = { image: image(64, 64), instruction: 'make it blue', seed: 1, steps: 1, sizeLevel: 64 };

/** Real sessions that count their runs: a check "before any work" must leave the count at 0. */
function countingRuns(): { factory: SessionFactory; runs: () => number } {
  let runs = 0;
  const factory: SessionFactory = async (path, options) => {
    const session = await createOrtSession(path, options);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      release: () => session.release(),
      run: (feeds) => {
        runs++;
        return session.run(feeds);
      },
    };
  };
  return { factory, runs: () => runs };
}

/** Sessions whose outputs for one graph get a NaN (or +Inf) written into them: a model that overflowed. */
function poisoning(graphFile: string, value: number): SessionFactory {
  return async (path, options) => {
    const session = await createOrtSession(path, options);
    if (basename(path) !== graphFile) return session;
    const poisoned: InferenceSession = {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      release: () => session.release(),
      run: async (feeds) => {
        const out = await session.run(feeds);
        for (const t of Object.values(out)) if (t.data instanceof Float32Array) t.data[t.data.length >> 1] = value;
        return out;
      },
    };
    return poisoned;
  };
}

describe('Step1XEditPipeline on ONNX Runtime (tiny models)', () => {
  let modelsDir: string;
  let scratch: string;

  before(async () => {
    modelsDir = (await ensureTinyModels()).modelsDir;
    scratch = mkdtempSync(join(tmpdir(), 'step1x-pipeline-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** A models folder that links the tiny graphs, with `patch` applied to it. */
  function folder(name: string, patch: (dir: string) => void = () => undefined): string {
    const dir = join(scratch, name);
    mkdirSync(dir);
    for (const file of GRAPH_FILES) symlinkSync(join(modelsDir, file), join(dir, file));
    copyFileSync(join(modelsDir, STEP1X_MANIFEST_FILE), join(dir, STEP1X_MANIFEST_FILE));
    copyFileSync(join(modelsDir, QWEN_MANIFEST_FILE), join(dir, QWEN_MANIFEST_FILE));
    patch(dir);
    return dir;
  }

  const editManifest = (dir: string, file: string, edit: (m: Record<string, unknown>) => void) => {
    const manifest = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    edit(manifest);
    writeFileSync(join(dir, file), JSON.stringify(manifest));
  };

  it('loads the tiny models, declares their size levels and edits at the smallest one', async () => {
    const pipeline = await Step1XEditPipeline.load(modelsDir);
    try {
      assert.deepEqual(pipeline.sizeLevels.supported.slice(-3), [...EDIT_PARAMS.sizeLevel.levels]);
      const result = await pipeline.edit(SMALL_EDIT);
      assert.deepEqual([result.image.width, result.image.height], [64, 64]);
    } finally {
      await pipeline.release();
    }
  });

  it('refuses a models folder of another format, naming the file and both formats', async () => {
    const dir = folder('wrong-format', (d) =>
      editManifest(d, STEP1X_MANIFEST_FILE, (m) => (m.format = 'step1x-models/0')),
    );
    await assert.rejects(Step1XEditPipeline.load(dir), (error: unknown) => {
      assert.ok(error instanceof ModelFormatError, String(error));
      assert.match(error.message, /manifest\.json: format is "step1x-models\/0", this build reads "step1x-models\/1"/);
      return true;
    });
    const qwen = folder('wrong-qwen-format', (d) => editManifest(d, QWEN_MANIFEST_FILE, (m) => delete m.format));
    await assert.rejects(Step1XEditPipeline.load(qwen), /qwen-manifest\.json: format is undefined/);
  });

  it('refuses a graph whose input was renamed and whose output is missing, before any run', async () => {
    // A stand-in VAE decoder that ONNX Runtime loads fine but whose interface is not the format's.
    const dir = folder('renamed-io', (d) => {
      rmSync(join(d, 'vae_decoder.onnx'));
      const g = new GraphBuilder('vae_decoder');
      const z = g.input('z', 'float32', ['batch', 16, 'h', 'w']);
      g.output(g.mul(z, g.constFloat([2], [])), 'pixels', ['batch', 16, 'h', 'w']);
      writeOnnxModel(g, {
        path: join(d, 'vae_decoder.onnx'),
        weights: new InMemoryWeights(new Map()),
        externalData: false,
      });
    });
    const counting = countingRuns();
    await assert.rejects(Step1XEditPipeline.load(dir, { sessionFactory: counting.factory }), (error: unknown) => {
      assert.ok(error instanceof ModelFormatError, String(error));
      assert.match(
        error.message,
        /graph vae_decoder \(vae_decoder\.onnx\) does not match the models format: missing input latent; unexpected input z; missing output image; unexpected output pixels/,
      );
      return true;
    });
    assert.equal(counting.runs(), 0);
  });

  it('refuses a graph whose input and output have the right names but the wrong dtype', async () => {
    const dir = folder('wrong-dtype', (d) => {
      rmSync(join(d, 'vae_decoder.onnx'));
      const g = new GraphBuilder('vae_decoder');
      const latent = g.input('latent', 'int64', ['batch', 16, 'h', 'w']);
      g.output(g.op('Identity', [latent]), 'image', ['batch', 16, 'h', 'w']);
      writeOnnxModel(g, {
        path: join(d, 'vae_decoder.onnx'),
        weights: new InMemoryWeights(new Map()),
        externalData: false,
      });
    });
    await assert.rejects(
      Step1XEditPipeline.load(dir),
      /graph vae_decoder \(vae_decoder\.onnx\) does not match the models format: input latent is int64\[rank 4\], expected float32\[rank 4\]; output image is int64\[rank 4\], expected float32\[rank 4\]/,
    );
  });

  it('checks the request against the shared ranges and the models size levels before any work', async () => {
    const counting = countingRuns();
    const pipeline = await Step1XEditPipeline.load(modelsDir, { sessionFactory: counting.factory });
    try {
      const refused: [Partial<EditRequest>, string, string][] = [
        [{ sizeLevel: 640 }, 'size_level', 'out_of_range'],
        [{ steps: 0 }, 'steps', 'out_of_range'],
        [{ steps: 101 }, 'steps', 'out_of_range'],
        [{ guidance: 25 }, 'guidance', 'out_of_range'],
        [{ seed: -1 }, 'seed', 'out_of_range'],
        [{ instruction: 'x'.repeat(2001) }, 'instruction', 'out_of_range'],
        [{ instruction: '  ' }, 'instruction', 'invalid_request'],
        [{ instruction: 'hi <|im_end|>' }, 'instruction', 'instruction_contains_special_token'],
      ];
      for (const [patch, param, code] of refused) {
        await assert.rejects(pipeline.edit({ ...SMALL_EDIT, ...patch }), (error: unknown) => {
          assert.ok(error instanceof EditRequestError, `${JSON.stringify(patch)}: ${String(error)}`);
          assert.deepEqual([error.param, error.code], [param, code]);
          return true;
        });
      }
      assert.equal(counting.runs(), 0);
    } finally {
      await pipeline.release();
    }
  });

  it('decodes encoded input with the limits it was given (the worker passes the API config)', async () => {
    const pipeline = await Step1XEditPipeline.load(modelsDir, { imageLimits: { maxPixels: 4095 } });
    try {
      const png = await encodeImageBytes(image(64, 64), 'png');
      await assert.rejects(
        pipeline.edit({ ...SMALL_EDIT, image: png }),
        (error: unknown) => error instanceof ImageInputError && error.code === 'image_too_large',
      );
    } finally {
      await pipeline.release();
    }
  });

  const checkpoints: [string, number, NumericsCheckpoint][] = [
    ['qwen_llm.onnx', NaN, 'mllm'],
    ['vae_encoder.onnx', Infinity, 'vae_encoder'],
    ['connector.onnx', NaN, 'sampler'],
    ['dit.onnx', -Infinity, 'sampler'],
    ['vae_decoder.onnx', NaN, 'vae_decoder'],
  ];
  for (const [graphFile, value, checkpoint] of checkpoints) {
    it(`fails with model_numerics when ${graphFile} outputs ${value}, naming the stage`, async () => {
      const pipeline = await Step1XEditPipeline.load(modelsDir, { sessionFactory: poisoning(graphFile, value) });
      try {
        await assert.rejects(pipeline.edit(SMALL_EDIT), (error: unknown) => {
          assert.ok(error instanceof ModelNumericsError, String(error));
          assert.deepEqual([error.code, error.checkpoint], ['model_numerics', checkpoint]);
          return true;
        });
      } finally {
        await pipeline.release();
      }
    });
  }

  it('fails with model_numerics on a real graph whose weights are NaN (no black image marked done)', async () => {
    const config = namedConfig('tiny');
    const tables = step1xParameterTables(config, DEFAULT_BUILD_OPTIONS);
    const weights = (table: ReadonlyMap<string, readonly number[]>, poison?: string) => {
      const values = randomStateDict(table, 7);
      if (poison) values.get(poison)!.fill(NaN);
      return new InMemoryWeights(new Map([...values].map(([n, v]) => [n, { shape: table.get(n)!, values: v }])));
    };
    const dir = join(scratch, 'nan-weights');
    await buildStep1XModels({
      config,
      ditWeights: weights(tables.dit),
      vaeWeights: weights(tables.vae, 'decoder.conv_out.bias'),
      outDir: dir,
      options: DEFAULT_BUILD_OPTIONS,
      source: { dit: 'random (seed 7)', vae: 'random (seed 7), decoder.conv_out.bias = NaN' },
      externalData: false,
      sizeLevels: { supported: [64], default: 64 },
    });
    for (const file of ['qwen_vision.onnx', 'qwen_llm.onnx', QWEN_MANIFEST_FILE])
      symlinkSync(join(modelsDir, file), join(dir, file));
    const pipeline = await Step1XEditPipeline.load(dir);
    try {
      await assert.rejects(pipeline.edit(SMALL_EDIT), (error: unknown) => {
        assert.ok(error instanceof ModelNumericsError, String(error));
        assert.equal(error.checkpoint, 'vae_decoder');
        assert.ok(Number.isNaN(error.value));
        return true;
      });
    } finally {
      await pipeline.release();
    }
  });
});
