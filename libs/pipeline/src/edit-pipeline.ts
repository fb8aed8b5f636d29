import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EDIT_PARAMS, editParamProblems } from '@step1x/contracts';
import { decodeImage, type DecodeLimits } from '@step1x/imaging';
import {
  QWEN_MANIFEST_FILE,
  STEP1X_MANIFEST_FILE,
  assertGraphSignature,
  assertQwenManifest,
  assertStep1XManifest,
  manifestSizeLevels,
  type GraphName,
  type LatentPreviewMap,
  type SizeLevels,
  type Step1XModelsManifest,
} from '@step1x/model-format';
import { buildPositionIds, buildRopeTables } from './dit/rope';
import { packLatents, unpackLatents, type LatentShape } from './dit/packing';
import { prepareMllmInputs, MllmBranchInputs, MllmInputs } from './mllm/mllm-inputs';
import { encodeMllmBranch, runQwenVision } from './mllm/mllm.stage';
import { gaussianNoise } from './noise/gaussian-noise';
import { vaeOutputToImage } from './postprocess/vae-output';
import { RgbImage } from './preprocess/image.types';
import { resize } from './preprocess/resample';
import { sizeLevelTarget } from './preprocess/size-level';
import { imageToVaeInput } from './preprocess/vae-input';
import { InferenceSession, SessionFactory, SessionOptions } from './runtime/inference-session.port';
import { createOrtSession } from './runtime/ort-session';
import { denoise, type CleanEstimateRequest } from './sampler/denoise';
import { latentToPreview, readLatentPreviewMap } from './preview/latent-preview';
import { EditCanceledError } from './edit-canceled.error';
import { EditRequestError } from './edit-request.error';
import { assertFiniteOutput } from './numerics/model-numerics';
import { getSchedule } from './sampler/time-shift';
import { QwenTokenizer } from './tokenizer/qwen-tokenizer';
import { decodeLatent, encodeImage } from './vae/vae.stage';

export interface PipelineLoadOptions extends SessionOptions {
  /** How graphs are opened; tests may wrap it. @defaultValue ONNX Runtime */
  readonly sessionFactory?: SessionFactory;
  /**
   * Limits for encoded input images; the worker passes MAX_IMAGE_PIXELS / MAX_ASPECT_RATIO, the same values the API
   * checks with. @defaultValue `DECODE_LIMIT_DEFAULTS` of `@step1x/imaging`
   */
  readonly imageLimits?: DecodeLimits;
}

export interface EditProgress {
  readonly step: number;
  readonly total: number;
}

export interface EditRequest {
  /** Encoded image bytes (PNG, JPEG, WebP, …) or decoded 8-bit RGB. */
  readonly image: Uint8Array | RgbImage;
  readonly instruction: string;
  /** @defaultValue 42 (the official default); ranges of every field: `EDIT_PARAMS` of `@step1x/contracts` */
  readonly seed?: number;
  /** @defaultValue 28 */
  readonly steps?: number;
  /** CFG scale. @defaultValue 6.0 */
  readonly guidance?: number;
  /** Target area ≈ sizeLevel² for the DiT; one of the models' `sizeLevels`. @defaultValue their default (512) */
  readonly sizeLevel?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: EditProgress) => void;
  /**
   * Step previews (CONTRACT.md "Live events and previews"): every `every` steps, the sampler's clean-image estimate
   * mapped to RGB by the models' latent preview map, at the latent grid's size (working size / 8). Ignored when the
   * models folder has no map (`previewsAvailable`). The callback must return quickly (the next step waits).
   */
  readonly previews?: { every: number; onPreview: (p: EditPreview) => void };
}

export interface EditPreview {
  readonly step: number;
  readonly total: number;
  readonly image: RgbImage;
}

/** The models an edit ran on: the manifest's model version and one sha256 over every graph file's digest. */
export interface ModelIdentity {
  version: string;
  sha256: string;
}

/**
 * sha256 over the sorted `path:sha256` lines of both manifests' file digests (the builder wrote them), so two
 * folders with the same weights and graphs give the same value without re-reading gigabytes at start-up.
 */
export function modelIdentityOf(
  manifest: Pick<Step1XModelsManifest, 'model_version' | 'files'>,
  qwenFiles: Step1XModelsManifest['files'],
): ModelIdentity {
  const lines = Object.entries({ ...qwenFiles, ...manifest.files })
    .map(([path, digest]) => `${path}:${digest.sha256}`)
    .sort();
  return { version: manifest.model_version, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') };
}

export interface EditTimings {
  preprocessMs: number;
  mllmMs: number;
  vaeEncodeMs: number;
  denoiseMs: number;
  vaeDecodeMs: number;
  postprocessMs: number;
  totalMs: number;
}

export interface EditResult {
  /** The edited image at the (oriented) source size. */
  readonly image: RgbImage;
  /** The size the DiT worked at (multiples of 16, area ≈ sizeLevel²). */
  readonly workingSize: { width: number; height: number };
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  readonly sizeLevel: number;
  /** The 640-token window cut the instruction (docs/MODEL.md §10). */
  readonly truncated: boolean;
  readonly timings: EditTimings;
}

/** The pipeline's defaults, from the one definition of the edit parameters (the models may change sizeLevel's). */
export const EDIT_DEFAULTS = {
  seed: EDIT_PARAMS.seed.default,
  steps: EDIT_PARAMS.steps.default,
  guidance: EDIT_PARAMS.guidance.default,
  sizeLevel: EDIT_PARAMS.sizeLevel.default,
} as const;

interface Sessions {
  qwenVision: InferenceSession;
  qwenLlm: InferenceSession;
  connector: InferenceSession;
  dit: InferenceSession;
  vaeEncoder: InferenceSession;
  vaeDecoder: InferenceSession;
}

/**
 * Step1X-Edit v1.1 end to end, in the paper's order: the MLLM reads image + instruction (once per CFG branch), the
 * sampler loops connector + DiT over the noisy latent beside the reference latent, the VAE decodes. Sessions are
 * created once in `load` and reused by every `edit`; one pipeline runs one edit at a time.
 */
export class Step1XEditPipeline {
  private busy = false;

  private constructor(
    private readonly sessions: Sessions,
    private readonly tokenizer: QwenTokenizer,
    private readonly manifest: Step1XModelsManifest,
    private readonly imageLimits: DecodeLimits,
    private readonly previewMap: LatentPreviewMap | null,
    /** What an edit's receipt names (CONTRACT.md `compute.model`); see `modelIdentityOf`. */
    readonly modelIdentity: ModelIdentity = modelIdentityOf(manifest, {}),
  ) {}

  /** Whether the models folder has a latent preview map (`latent_preview.json`), so `previews` can be served. */
  get previewsAvailable(): boolean {
    return this.previewMap !== null;
  }

  /**
   * Opens every graph of a models folder. Before any run it checks the manifests' format and every session's inputs
   * and outputs (names, and dtypes and ranks as ONNX Runtime reports them) against `@step1x/model-format`
   * (docs/MODEL.md §19), so a folder from another builder version fails here with the mismatch named, not mid-edit.
   * @throws ModelFormatError for a wrong format or a graph whose interface differs
   */
  static async load(modelsDir: string, options: PipelineLoadOptions = {}): Promise<Step1XEditPipeline> {
    const read = (file: string): unknown => {
      const path = join(modelsDir, file);
      if (!existsSync(path)) throw new Error(`${path} not found: build the models with \`step1x models build\``);
      return JSON.parse(readFileSync(path, 'utf8'));
    };
    const manifest = assertStep1XManifest(read(STEP1X_MANIFEST_FILE), join(modelsDir, STEP1X_MANIFEST_FILE));
    const qwen = assertQwenManifest(read(QWEN_MANIFEST_FILE), join(modelsDir, QWEN_MANIFEST_FILE));
    const open = options.sessionFactory ?? createOrtSession;
    const opened: InferenceSession[] = [];
    const graph = async (name: GraphName, file: string): Promise<InferenceSession> => {
      const session = await open(join(modelsDir, file), options);
      opened.push(session);
      assertGraphSignature(name, file, session);
      return session;
    };
    try {
      const sessions: Sessions = {
        qwenVision: await graph('qwen_vision', qwen.graphs.qwen_vision),
        qwenLlm: await graph('qwen_llm', qwen.graphs.qwen_llm),
        connector: await graph('connector', manifest.graphs.connector),
        dit: await graph('dit', manifest.graphs.dit),
        vaeEncoder: await graph('vae_encoder', manifest.graphs.vae_encoder),
        vaeDecoder: await graph('vae_decoder', manifest.graphs.vae_decoder),
      };
      const tokenizer = existsSync(join(modelsDir, 'tokenizer.json'))
        ? QwenTokenizer.fromDirectory(modelsDir)
        : QwenTokenizer.bundled();
      const previewMap = readLatentPreviewMap(modelsDir);
      if (previewMap && previewMap.channels !== manifest.config.vae.z_channels) {
        throw new Error(
          `${modelsDir}: the latent preview map reads ${previewMap.channels} channels, the VAE has ${manifest.config.vae.z_channels}`,
        );
      }
      return new Step1XEditPipeline(
        sessions,
        tokenizer,
        manifest,
        options.imageLimits ?? {},
        previewMap,
        modelIdentityOf(manifest, qwen.files),
      );
    } catch (error) {
      await Promise.all(opened.map((s) => s.release().catch(() => undefined)));
      throw error;
    }
  }

  /** The size levels the loaded models support (their manifest's) and the default one. */
  get sizeLevels(): SizeLevels {
    return manifestSizeLevels(this.manifest);
  }

  /** Where the weights came from (recorded by the builder), e.g. to say that tiny random weights are in use. */
  get weightSource(): Readonly<Record<string, string>> {
    return this.manifest.source;
  }

  async edit(request: EditRequest): Promise<EditResult> {
    if (this.busy) throw new Error('Step1XEditPipeline runs one edit at a time; create one pipeline per worker slot');
    this.busy = true;
    try {
      return await this.run(request);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Refuses a request outside the shared parameter ranges or the models' size levels, before any work.
   * @throws EditRequestError naming the first bad field
   */
  checkRequest(request: Pick<EditRequest, 'instruction' | 'seed' | 'steps' | 'guidance' | 'sizeLevel'>): void {
    const [problem] = editParamProblems(request, this.sizeLevels.supported);
    if (problem) throw new EditRequestError(problem.code, problem.param, `${problem.param}: ${problem.message}`);
  }

  private async run(request: EditRequest): Promise<EditResult> {
    this.checkRequest(request);
    const seed = request.seed ?? EDIT_DEFAULTS.seed;
    const steps = request.steps ?? EDIT_DEFAULTS.steps;
    const guidance = request.guidance ?? EDIT_DEFAULTS.guidance;
    const sizeLevel = request.sizeLevel ?? this.sizeLevels.default;
    const timer = new StageTimer();
    const abortCheck = () => {
      if (request.signal?.aborted) throw new EditCanceledError();
    };

    // Numerics: each stage's output is checked once (mllm, reference latent, final latent, decoded image), never per
    // step; a NaN in the connector or DiT reaches the final latent through every later step (docs/MODEL.md §20).

    // 1. Preprocess: decode (limits, orientation, sRGB) and the size_level resize (Lanczos, multiples of 16).
    const source =
      request.image instanceof Uint8Array ? await decodeImage(request.image, this.imageLimits) : request.image;
    const working = sizeLevelTarget({ width: source.width, height: source.height }, sizeLevel);
    const reference = resize(source, working.width, working.height, 'lanczos');
    const mllmInputs = prepareMllmInputs(this.tokenizer, request.instruction, reference);
    timer.lap('preprocessMs');
    abortCheck();

    // 2. Encode the prompt: the MLLM once per CFG branch (cond = instruction, uncond = empty, same image).
    const { llmEmbedding, mask } = await this.encodePrompt(mllmInputs);
    assertFiniteOutput('mllm', llmEmbedding);
    timer.lap('mllmMs');
    abortCheck();

    // 3. Prepare latents: the reference's VAE posterior mean and the seeded noise, both packed into 2×2 tokens.
    const latentShape = {
      batch: 1,
      channels: this.manifest.config.vae.z_channels,
      height: working.height / 8,
      width: working.width / 8,
    };
    const ref = await encodeImage(this.sessions.vaeEncoder, imageToVaeInput(reference), working.height, working.width);
    assertFiniteOutput('vae_encoder', ref.latent);
    const refTokens = packLatents(ref.latent, latentShape);
    const noiseTokens = packLatents(
      gaussianNoise(seed, [1, latentShape.channels, latentShape.height, latentShape.width]),
      latentShape,
    );
    timer.lap('vaeEncodeMs');

    // 4. Denoise: connector + DiT every step, CFG with the v1.1 renorm, Euler.
    const rt = this.manifest.config.runtime;
    const gridHeight = working.height / 16;
    const gridWidth = working.width / 16;
    const ids = buildPositionIds({ textLength: rt.max_length, gridHeight, gridWidth, version: rt.version });
    const tokens = await denoise(this.sessions, {
      noiseTokens,
      refTokens,
      llmEmbedding,
      mask,
      textTokens: rt.max_length,
      timesteps: getSchedule(steps, gridHeight * gridWidth),
      rope: buildRopeTables(ids, this.manifest.config.dit.axes_dim, this.manifest.config.dit.theta),
      guidance: { guidance, truncate: rt.timesteps_truncate, renormK: rt.renorm_k },
      signal: request.signal,
      onStep: (s) => request.onProgress?.({ step: s.step, total: s.total }),
      cleanEstimate: this.cleanEstimateFor(request, latentShape),
    });
    assertFiniteOutput('sampler', tokens);
    timer.lap('denoiseMs');
    abortCheck();

    // 5. Decode, then back to the source size (bicubic, as the official `output_process_image`).
    const decoded = await decodeLatent(this.sessions.vaeDecoder, unpackLatents(tokens, latentShape), [
      1,
      latentShape.channels,
      latentShape.height,
      latentShape.width,
    ]);
    assertFiniteOutput('vae_decoder', decoded);
    timer.lap('vaeDecodeMs');
    const generated = vaeOutputToImage(decoded, working.height, working.width);
    const image = resize(generated, source.width, source.height, 'bicubic');
    timer.lap('postprocessMs');
    return {
      image,
      workingSize: working,
      seed,
      steps,
      guidance,
      sizeLevel,
      truncated: mllmInputs.truncated,
      timings: timer.done(),
    };
  }

  private cleanEstimateFor(request: EditRequest, latentShape: LatentShape): CleanEstimateRequest | undefined {
    const previews = request.previews;
    const map = this.previewMap;
    if (!previews || !map || !Number.isInteger(previews.every) || previews.every < 1) return undefined;
    return {
      every: previews.every,
      onEstimate: (step, total, x0Tokens) => {
        const image = latentToPreview(unpackLatents(x0Tokens, latentShape), latentShape.height, latentShape.width, map);
        previews.onPreview({ step, total, image });
      },
    };
  }

  /** `[2, 640, D]` embeddings (cond, uncond) and their `[2, 640]` mask. */
  private async encodePrompt(inputs: MllmInputs): Promise<{ llmEmbedding: Float32Array; mask: Uint8Array }> {
    const vision = await runQwenVision(this.sessions.qwenVision, {
      pixelValues: inputs.image.pixelValues,
      grids: [inputs.image.grid],
      layout: inputs.vision,
      patchPositionIds: inputs.vision.patchPositionIds,
    });
    const branch = (b: MllmBranchInputs) =>
      encodeMllmBranch(
        this.sessions.qwenLlm,
        {
          inputIds: b.prompt.inputIds,
          attentionMask: b.prompt.attentionMask,
          positionIds: b.positions.positionIds,
          imageEmbeds: vision.imageEmbeds,
          hidden: vision.hidden,
        },
        this.manifest.config.runtime.max_length,
      );
    const cond = await branch(inputs.cond);
    const uncond = await branch(inputs.uncond);
    const llmEmbedding = new Float32Array(cond.embs.length * 2);
    llmEmbedding.set(cond.embs, 0);
    llmEmbedding.set(uncond.embs, cond.embs.length);
    const mask = new Uint8Array(cond.masks.length * 2);
    mask.set(cond.masks, 0);
    mask.set(uncond.masks, cond.masks.length);
    return { llmEmbedding, mask };
  }

  async release(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((s) => s.release()));
  }
}

class StageTimer {
  private readonly start = performance.now();
  private last = this.start;
  private readonly laps: Partial<EditTimings> = {};

  lap(name: Exclude<keyof EditTimings, 'totalMs'>): void {
    const now = performance.now();
    this.laps[name] = Math.round(now - this.last);
    this.last = now;
  }

  done(): EditTimings {
    return {
      preprocessMs: 0,
      mllmMs: 0,
      vaeEncodeMs: 0,
      denoiseMs: 0,
      vaeDecodeMs: 0,
      postprocessMs: 0,
      ...this.laps,
      totalMs: Math.round(performance.now() - this.start),
    };
  }
}
