import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILDER_VERSION,
  BuildOptions,
  ModelsManifest,
  SafetensorsWeights,
  Step1XConfig,
  buildStep1XModels,
  parseStep1XConfig,
} from '@step1x/model-builder';
import { InferenceSession, createOrtSession, decodeLatent, encodeImage, runConnector } from '@step1x/pipeline';
import { SafetensorsFile, workspaceRoot } from '@step1x/tensors';
import { CaseResult } from './case-result';
import { CaseChecker } from './tensor-check';

interface ManifestCase {
  case: string;
  file: string;
  json: string;
}

interface TinySession {
  config: Step1XConfig;
  connector: InferenceSession;
  dit: InferenceSession;
  vaeEncoder: InferenceSession;
  vaeDecoder: InferenceSession;
}

/** Builds (or reuses from the cache) ONNX models from a golden directory's own config and weights. */
export async function buildModelsForGoldenDir(dir: string, options: BuildOptions): Promise<{ modelsDir: string; manifest: ModelsManifest }> {
  const configText = readFileSync(join(dir, 'config.json'), 'utf8');
  const hash = createHash('sha256').update(BUILDER_VERSION).update(configText).update(JSON.stringify(options));
  for (const f of ['dit.safetensors', 'vae.safetensors']) hash.update(readFileSync(join(dir, f)));
  const modelsDir = join(workspaceRoot(), '.cache', 'golden-models', hash.digest('hex').slice(0, 16));
  const manifestPath = join(modelsDir, 'manifest.json');
  if (existsSync(manifestPath)) return { modelsDir, manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelsManifest };
  const dit = SafetensorsWeights.open([join(dir, 'dit.safetensors')]);
  const vae = SafetensorsWeights.open([join(dir, 'vae.safetensors')]);
  try {
    const manifest = await buildStep1XModels({
      config: parseStep1XConfig(JSON.parse(configText)),
      ditWeights: dit,
      vaeWeights: vae,
      outDir: modelsDir,
      options,
      source: { dit: join(dir, 'dit.safetensors'), vae: join(dir, 'vae.safetensors') },
      externalData: false,
    });
    return { modelsDir, manifest };
  } finally {
    dit.close();
    vae.close();
  }
}

type CaseRunner = (s: TinySession, file: SafetensorsFile, json: Record<string, unknown>, check: CaseChecker) => Promise<void>;

const RUNNERS: { kind: RegExp; run: CaseRunner }[] = [
  { kind: /^connector$/, run: checkConnector },
  { kind: /^vae_\d+x\d+$/, run: checkVae },
];

async function checkConnector(s: TinySession, f: SafetensorsFile, _json: Record<string, unknown>, check: CaseChecker): Promise<void> {
  const [batch, tokens, channels] = f.info('llm_embedding').shape;
  const out = await runConnector(s.connector, {
    llmEmbedding: f.readFloat32('llm_embedding'),
    mask: f.readBigInt64('mask'),
    t: f.readFloat32('t'),
    batch,
    tokens,
    channels,
  });
  check.float('txt', out.txt, f.readFloat32('txt'));
  check.float('y', out.y, f.readFloat32('y'));
}

async function checkVae(s: TinySession, f: SafetensorsFile, _json: Record<string, unknown>, check: CaseChecker): Promise<void> {
  const [, , height, width] = f.info('image').shape;
  const enc = await encodeImage(s.vaeEncoder, f.readFloat32('image'), height, width);
  check.float('enc_mean', enc.mean, f.readFloat32('enc_mean'));
  check.float('enc_logvar', enc.logvar, f.readFloat32('enc_logvar'));
  check.float('latent', enc.latent, f.readFloat32('latent'));
  const decoded = await decodeLatent(s.vaeDecoder, f.readFloat32('decoder_latent'), f.info('decoder_latent').shape);
  check.float('decoded', decoded, f.readFloat32('decoded'));
}

/** Checks every case of a `step1x-tiny/1` golden directory through models built from its own weights. */
export async function checkStep1XTinySet(dir: string, options: BuildOptions): Promise<CaseResult[]> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { cases: ManifestCase[] };
  const { modelsDir, manifest: models } = await buildModelsForGoldenDir(dir, options);
  const open = (name: string) => createOrtSession(join(modelsDir, models.graphs[name]));
  const session: TinySession = {
    config: models.config,
    connector: await open('connector'),
    dit: await open('dit'),
    vaeEncoder: await open('vae_encoder'),
    vaeDecoder: await open('vae_decoder'),
  };
  const results: CaseResult[] = [];
  try {
    for (const c of manifest.cases) {
      const check = new CaseChecker(c.case);
      const runner = RUNNERS.find((r) => r.kind.test(c.case));
      if (!runner) {
        check.fail(c.case, 'unknown case kind: the checker cannot run it');
        results.push(check.result());
        continue;
      }
      let file: SafetensorsFile | undefined;
      try {
        file = SafetensorsFile.open(join(dir, c.file));
        const json = JSON.parse(readFileSync(join(dir, c.json), 'utf8')) as Record<string, unknown>;
        await runner.run(session, file, json, check);
      } catch (err) {
        check.fail(c.case, (err as Error).message);
      } finally {
        file?.close();
      }
      results.push(check.result());
    }
  } finally {
    await Promise.all([session.connector, session.dit, session.vaeEncoder, session.vaeDecoder].map((x) => x.release()));
  }
  return results;
}
