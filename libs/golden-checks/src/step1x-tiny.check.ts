import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BuildOptions,
  ModelsManifest,
  Step1XGraphName,
  Checkpoint,
  buildOnce,
  builderFingerprint,
  buildStep1XModels,
  readJsonFile,
  parseStep1XConfig,
} from '@step1x/model-builder';
import { createOrtSession } from '@step1x/pipeline';
import { SafetensorsFile, workspaceRoot } from '@step1x/tensors';
import { CaseResult, FLOAT_GATE } from './case-result';
import { CaseChecker } from './tensor-check';
import { STEP1X_TINY_RUNNERS, TinySessions } from './step1x-tiny.cases';

interface ManifestCase {
  case: string;
  file: string;
  json: string;
}

/** Builds (or reuses from the cache) ONNX models from a golden directory's own config and weights. */
export async function buildModelsForGoldenDir(
  dir: string,
  options: BuildOptions,
): Promise<{ modelsDir: string; manifest: ModelsManifest }> {
  const configText = readFileSync(join(dir, 'config.json'), 'utf8');
  const hash = createHash('sha256').update(builderFingerprint()).update(configText).update(JSON.stringify(options));
  for (const f of ['dit.safetensors', 'vae.safetensors']) hash.update(readFileSync(join(dir, f)));
  const modelsDir = join(workspaceRoot(), '.cache', 'golden-models', hash.digest('hex').slice(0, 16));
  await buildOnce(modelsDir, ['manifest.json'], async (outDir) => {
    const dit = Checkpoint.open(join(dir, 'dit.safetensors'));
    const vae = Checkpoint.open(join(dir, 'vae.safetensors'));
    try {
      await buildStep1XModels({
        config: parseStep1XConfig(JSON.parse(configText)),
        ditWeights: dit,
        vaeWeights: vae,
        outDir,
        options,
        source: { dit: join(dir, 'dit.safetensors'), vae: join(dir, 'vae.safetensors') },
        externalData: false,
      });
    } finally {
      dit.close();
      vae.close();
    }
  });
  return { modelsDir, manifest: readJsonFile<ModelsManifest>(join(modelsDir, 'manifest.json')) };
}

/** Checks every case of a `step1x-tiny/1` golden directory through models built from its own weights. */
export async function checkStep1XTinySet(dir: string, options: BuildOptions, gate = FLOAT_GATE): Promise<CaseResult[]> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { cases: ManifestCase[] };
  const { modelsDir, manifest: models } = await buildModelsForGoldenDir(dir, options);
  const open = (name: Step1XGraphName) => createOrtSession(join(modelsDir, models.graphs[name]));
  const sessions: TinySessions = {
    config: models.config,
    connector: await open('connector'),
    dit: await open('dit'),
    vaeEncoder: await open('vae_encoder'),
    vaeDecoder: await open('vae_decoder'),
  };
  const results: CaseResult[] = [];
  try {
    for (const c of manifest.cases) {
      const check = new CaseChecker(c.case, gate);
      const runner = STEP1X_TINY_RUNNERS.find((r) => r.kind.test(c.case));
      if (!runner) {
        check.fail(c.case, 'unknown case kind: the checker cannot run it');
        results.push(check.result());
        continue;
      }
      let file: SafetensorsFile | undefined;
      try {
        file = SafetensorsFile.open(join(dir, c.file));
        const json = JSON.parse(readFileSync(join(dir, c.json), 'utf8')) as Record<string, unknown>;
        await runner.run({ sessions, file, params: (json.params ?? {}) as Record<string, unknown>, check });
      } catch (err) {
        check.fail(c.case, (err as Error).message);
      } finally {
        file?.close();
      }
      results.push(check.result());
    }
  } finally {
    await Promise.all(
      [sessions.connector, sessions.dit, sessions.vaeEncoder, sessions.vaeDecoder].map((x) => x.release()),
    );
  }
  return results;
}
