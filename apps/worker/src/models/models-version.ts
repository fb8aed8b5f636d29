import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QWEN_MANIFEST_FILE, STEP1X_MANIFEST_FILE, type Step1XModelsManifest } from '@step1x/model-format';

/**
 * The version of a models folder: the Step1X release it was built for and the first 12 hex digits of the sha256 of
 * both manifests (which list the sha256 of every graph and weight file), e.g. `v1.1+3f2a9c0d1e2b`. Two folders
 * with the same version serve the same edits; MODEL_VERSION on the API names the one edits must run on.
 */
export function modelsVersionOf(modelsDir: string): string {
  const step1x = readFileSync(join(modelsDir, STEP1X_MANIFEST_FILE));
  const qwen = readFileSync(join(modelsDir, QWEN_MANIFEST_FILE));
  const digest = createHash('sha256').update(step1x).update(qwen).digest('hex').slice(0, 12);
  const release = (JSON.parse(step1x.toString('utf8')) as Step1XModelsManifest).model_version;
  return `${release}+${digest}`;
}
