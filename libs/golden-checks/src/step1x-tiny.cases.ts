import {
  InferenceSession,
  applyGuidance,
  applyRope,
  buildPositionIds,
  buildRopeTables,
  decodeLatent,
  denoise,
  encodeImage,
  eulerStep,
  getSchedule,
  packLatents,
  ropeRotationMatrices,
  runConnector,
  runDit,
  unpackLatents,
} from '@step1x/pipeline';
import { Step1XConfig } from '@step1x/model-builder';
import { SafetensorsFile, relativeL2 } from '@step1x/tensors';
import { CaseChecker } from './tensor-check';

export interface TinySessions {
  config: Step1XConfig;
  connector: InferenceSession;
  dit: InferenceSession;
  vaeEncoder: InferenceSession;
  vaeDecoder: InferenceSession;
}

export interface CaseContext {
  sessions: TinySessions;
  file: SafetensorsFile;
  params: Record<string, unknown>;
  check: CaseChecker;
}

type Runner = (c: CaseContext) => Promise<void>;

/** Case kinds of the `step1x-tiny/1` format, recognised by name. */
export const STEP1X_TINY_RUNNERS: readonly { kind: RegExp; run: Runner }[] = [
  { kind: /^connector$/, run: checkConnector },
  { kind: /^vae_\d+x\d+$/, run: checkVae },
  { kind: /^dit_forward_\d+x\d+$/, run: checkDitForward },
  { kind: /^sampler_\d+x\d+$/, run: checkSampler },
  { kind: /^cfg_step$/, run: checkCfgStep },
  { kind: /^rope_packing$/, run: checkRopePacking },
];

function num(params: Record<string, unknown>, key: string): number {
  const v = params[key];
  if (typeof v !== 'number') throw new Error(`case parameter "${key}" missing`);
  return v;
}

function latentShape(file: SafetensorsFile, name: string) {
  const [batch, channels, height, width] = file.info(name).shape;
  return { batch, channels, height, width };
}

/** Our ids for [text; noisy; reference] must equal the stored ones; the tables come from ours. */
function checkedRope(c: CaseContext, height: number, width: number) {
  const { file, check, sessions } = c;
  const textLength = file.info('txt_ids').shape[1];
  const ours = buildPositionIds({
    textLength,
    gridHeight: height / 16,
    gridWidth: width / 16,
    version: sessions.config.runtime.version,
  });
  const stored = [
    ...file.readFloat32('txt_ids').subarray(0, textLength * 3),
    ...file.readFloat32('img_ids').subarray(0, ours.length - textLength * 3),
  ];
  check.exact('ids', ours, stored);
  return { rope: buildRopeTables(ours, sessions.config.dit.axes_dim, sessions.config.dit.theta), textLength };
}

/** The connector on a case's stored `llm_embedding` and `mask` at the given t. */
function runStoredConnector({ sessions, file }: CaseContext, t: Float32Array) {
  const [batch, tokens, channels] = file.info('llm_embedding').shape;
  return runConnector(sessions.connector, {
    llmEmbedding: file.readFloat32('llm_embedding'),
    mask: file.readBigInt64('mask'),
    t,
    batch,
    tokens,
    channels,
  });
}

async function checkConnector(c: CaseContext): Promise<void> {
  const { file, check } = c;
  const out = await runStoredConnector(c, file.readFloat32('t'));
  check.float('txt', out.txt, file.readFloat32('txt'));
  check.float('y', out.y, file.readFloat32('y'));
}

async function checkVae({ sessions, file, check }: CaseContext): Promise<void> {
  const [, , height, width] = file.info('image').shape;
  const enc = await encodeImage(sessions.vaeEncoder, file.readFloat32('image'), height, width);
  check.float('enc_mean', enc.mean, file.readFloat32('enc_mean'));
  check.float('enc_logvar', enc.logvar, file.readFloat32('enc_logvar'));
  check.float('latent', enc.latent, file.readFloat32('latent'));
  const decoded = await decodeLatent(
    sessions.vaeDecoder,
    file.readFloat32('decoder_latent'),
    file.info('decoder_latent').shape,
  );
  check.float('decoded', decoded, file.readFloat32('decoded'));
}

async function checkDitForward(c: CaseContext): Promise<void> {
  const { sessions, file, params, check } = c;
  const { rope, textLength } = checkedRope(c, num(params, 'height'), num(params, 'width'));
  const batch = file.info('llm_embedding').shape[0];
  const t = file.readFloat32('timesteps');
  const conn = await runStoredConnector(c, t);
  check.float('connector_txt', conn.txt, file.readFloat32('connector_txt'));
  check.float('connector_y', conn.y, file.readFloat32('connector_y'));
  const imageTokens = file.info('img').shape[1];
  const velocity = await runDit(sessions.dit, {
    img: file.readFloat32('img'),
    txt: conn.txt,
    y: conn.y,
    t,
    rope,
    batch,
    imageTokens,
    textTokens: textLength,
  });
  check.float('velocity', velocity, file.readFloat32('velocity'));
  // The packed inputs must be our packing of the stored latents.
  const n = imageTokens / 2;
  const img = file.readFloat32('img');
  check.exact(
    'img(noisy)',
    packLatents(file.readFloat32('noisy_latent'), latentShape(file, 'noisy_latent')),
    img.subarray(0, img.length / batch / 2),
  );
  check.exact(
    'img(ref)',
    packLatents(file.readFloat32('ref_latent'), latentShape(file, 'ref_latent')),
    img.subarray(n * 64, 2 * n * 64),
  );
}

async function checkSampler(c: CaseContext): Promise<void> {
  const { sessions, file, params, check } = c;
  const height = num(params, 'height');
  const width = num(params, 'width');
  const { rope, textLength } = checkedRope(c, height, width);
  const shape = latentShape(file, 'noise');
  const timesteps = file.readFloat32('timesteps');
  const n = (height / 16) * (width / 16);
  check.ulps('timesteps(schedule)', getSchedule(timesteps.length - 1, n), timesteps);
  const llmEmbedding = file.readFloat32('llm_embedding');
  const mask = file.readBigInt64('mask');
  const refTokens = packLatents(file.readFloat32('ref_latent'), shape);
  const guidance = {
    guidance: num(params, 'cfg_guidance'),
    truncate: num(params, 'timesteps_truncate'),
    renormK: num(params, 'renorm_k'),
  };
  const latents: Float32Array[] = [packLatents(file.readFloat32('noise'), shape)];
  const ditOutputs: Float32Array[] = [];
  const final = await denoise(sessions, {
    noiseTokens: latents[0],
    refTokens,
    llmEmbedding,
    mask,
    textTokens: textLength,
    timesteps,
    rope,
    guidance,
    onStep: (s) => {
      latents.push(Float32Array.from(s.tokens));
      ditOutputs.push(Float32Array.from(s.ditOutput));
    },
  });
  check.float('latents', concat(latents), file.readFloat32('latents'));
  check.float('final_tokens', final, file.readFloat32('final_tokens'));
  const finalLatent = unpackLatents(final, shape);
  check.float('final_latent', finalLatent, file.readFloat32('final_latent'));
  check.float('dit_outputs', concat(ditOutputs), file.readFloat32('dit_outputs'));
  const steps = timesteps.length - 1;
  check.float(
    'dit_timesteps',
    Float32Array.from({ length: 2 * steps }, (_, i) => timesteps[i >> 1]),
    file.readFloat32('dit_timesteps'),
  );
  const decoded = await decodeLatent(sessions.vaeDecoder, finalLatent, [1, shape.channels, shape.height, shape.width]);
  check.float('decoded_image', decoded, file.readFloat32('decoded_image'));
  await teacherForcedDiagnostics(c, { rope, textLength, llmEmbedding, mask, refTokens, timesteps, guidance });
}

/** Per-step errors with the reference latents fed in (diagnostics only; the gate is the free-running loop). */
async function teacherForcedDiagnostics(
  c: CaseContext,
  s: {
    rope: ReturnType<typeof buildRopeTables>;
    textLength: number;
    llmEmbedding: Float32Array;
    mask: BigInt64Array;
    refTokens: Float32Array;
    timesteps: Float32Array;
    guidance: Record<string, number>;
  },
): Promise<void> {
  const refLatents = c.file.readFloat32('latents');
  const size = s.refTokens.length;
  const refDit = c.file.readFloat32('dit_outputs');
  const lines: string[] = [];
  for (let k = 0; k + 1 < s.timesteps.length; k++) {
    let ditOut = new Float32Array(0);
    const next = await denoise(c.sessions, {
      noiseTokens: refLatents.subarray(k * size, (k + 1) * size),
      refTokens: s.refTokens,
      llmEmbedding: s.llmEmbedding,
      mask: s.mask,
      textTokens: s.textLength,
      timesteps: s.timesteps.subarray(k, k + 2),
      rope: s.rope,
      guidance: s.guidance,
      onStep: (r) => (ditOut = Float32Array.from(r.ditOutput)),
    });
    const ditErr = relativeL2(ditOut, refDit.subarray(k * ditOut.length, (k + 1) * ditOut.length));
    const stepErr = relativeL2(next, refLatents.subarray((k + 1) * size, (k + 2) * size));
    lines.push(
      `  step ${k}: dit_outputs ${ditErr.toExponential(2)}  latents[${k + 1}] ${stepErr.toExponential(2)} (teacher-forced)`,
    );
  }
  for (const l of lines) c.check.note(l);
}

async function checkCfgStep({ file, check }: CaseContext): Promise<void> {
  const x = file.readFloat32('x');
  const pred = file.readFloat32('dit_pred');
  const size = x.length;
  const rowLength = pred.length / 2;
  const cond = pred.subarray(0, size);
  const uncond = pred.subarray(rowLength, rowLength + size);
  const channels = file.info('x').shape[2];
  for (const [kind, output] of [
    ['timesteps_renorm', 'x_next_renorm'],
    ['timesteps_plain', 'x_next_plain'],
  ] as const) {
    const [tCurr, tPrev] = file.readFloat32(kind);
    const guided = applyGuidance(cond, uncond, tCurr, { channels });
    check.float(output, eulerStep(x, guided.velocity, tCurr, tPrev), file.readFloat32(output));
    if (kind === 'timesteps_renorm') {
      check.float('diff_norm', guided.diffNorms ?? new Float32Array(0), file.readFloat32('diff_norm'));
      check.float('renorm_divisor', guided.divisors ?? new Float32Array(0), file.readFloat32('renorm_divisor'));
    }
  }
}

async function checkRopePacking({ file, params, check }: CaseContext): Promise<void> {
  const axesDim = params.axes_dim as number[];
  const theta = num(params, 'theta');
  const textLength = num(params, 'n_txt');
  const grids: [string, [number, number]][] = [
    ['4x4', params.grid as [number, number]],
    ['4x6', params.grid_ns as [number, number]],
  ];
  for (const [suffix, [gridHeight, gridWidth]] of grids) {
    const latentName = `latent_${suffix}`;
    const shape = latentShape(file, latentName);
    const latent = file.readFloat32(latentName);
    const packed = packLatents(latent, shape);
    check.exact(`packed_${suffix}`, packed, file.readFloat32(`packed_${suffix}`));
    check.exact(`unpack(packed_${suffix})`, unpackLatents(packed, shape), latent);
    const idsName = suffix === '4x4' ? 'ids' : 'ids_4x6';
    const ids = buildPositionIds({ textLength, gridHeight, gridWidth, version: 'v1.1' });
    check.exact(idsName, ids, file.readFloat32(idsName));
    const tables = buildRopeTables(ids, axesDim, theta);
    const peName = suffix === '4x4' ? 'pe' : 'pe_4x6';
    check.float(peName, ropeRotationMatrices(tables), file.readFloat32(peName));
    if (suffix === '4x4') {
      check.float('cos', tables.cos, file.readFloat32('cos'));
      check.float('sin', tables.sin, file.readFloat32('sin'));
      const heads = file.info('q').shape[2];
      check.float('q_rot', applyRope(file.readFloat32('q'), tables, heads), file.readFloat32('q_rot'));
      check.float('k_rot', applyRope(file.readFloat32('k'), tables, heads), file.readFloat32('k_rot'));
    }
  }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
