// Deployment files checked offline (docs/DEPLOY.md): every kustomize overlay rendered and each object validated
// against the Kubernetes and KEDA schemas (vendored in kubernetes-models / @kubernetes-models/keda); the overlays
// keep the base's scaling rule (the one the fleet test's autoscaler reads); the compose file and Dockerfiles.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { lintDockerfile } from './dockerfile-rules';
import { loadScalingRule, parseScalingRule, REPO_ROOT } from './scaling-rule';

const OVERLAYS = ['base', 'overlays/dev', 'overlays/gpu'] as const;
const renderedFile = (overlay: string) =>
  join(REPO_ROOT, 'k8s', 'rendered', `${overlay.replace('overlays/', '')}.yaml`);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const kubectlAvailable = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

/**
 * The overlay as kubectl renders it. Without kubectl (a fresh CI machine), the checked-in rendering under
 * k8s/rendered is validated instead; with it, the checked-in rendering must equal a fresh one.
 */
function rendered(overlay: string): string {
  const checkedIn = readFileSync(renderedFile(overlay), 'utf8');
  if (!kubectlAvailable) return checkedIn;
  const result = spawnSync('kubectl', ['kustomize', join(REPO_ROOT, 'k8s', overlay)], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(checkedIn, result.stdout, `k8s/rendered is stale: run \`npm run k8s:render\``);
  return result.stdout;
}

function objectsOf(text: string): K8sObject[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as K8sObject);
}

/** The model class of an object: kubernetes-models for core groups, @kubernetes-models/keda for keda.sh. */
async function modelFor(object: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const module = (
    group === 'keda.sh'
      ? await import(`@kubernetes-models/keda/keda.sh/${version}`)
      : await import(group === '' ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`)
  ) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = module[object.kind];
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model;
}

const ofKind = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} missing`);
  return found;
};

describe('k8s manifests', () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay}: every rendered object is valid against the Kubernetes and KEDA schemas`, async () => {
      const objects = objectsOf(rendered(overlay));
      assert.ok(objects.length >= 10, `${objects.length} objects`);
      for (const object of objects) {
        // kustomize wraps long base64 values; the API server's decoder (Go's base64) skips the newlines, the
        // schema's "byte" format does not.
        if (object.kind === 'Secret' && object.data) {
          for (const key of Object.keys(object.data)) object.data[key] = object.data[key].replace(/\s+/g, '');
        }
        const Model = await modelFor(object);
        assert.doesNotThrow(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`);
      }
    });

    it(`${overlay}: the ScaledObject is the base's rule (the fleet autoscaler's), on the API's scaling endpoint`, () => {
      const objects = objectsOf(rendered(overlay));
      const scaled = ofKind(objects, 'ScaledObject', 'step1x-worker');
      assert.deepEqual(parseScalingRule(JSON.stringify(scaled)), loadScalingRule());
      const trigger = (scaled.spec as { triggers: Array<{ metadata: Record<string, string> }> }).triggers[0];
      assert.match(trigger.metadata.url, /^http:\/\/step1x-api\.step1x\.svc\.cluster\.local:3000\/internal\/scaling$/);
      assert.equal(trigger.metadata.valueLocation, 'backlog');
    });

    it(`${overlay}: workers outlive their drain, never reach the metadata address, and run as non-root`, () => {
      const objects = objectsOf(rendered(overlay));
      const config = ofKind(objects, 'ConfigMap', 'step1x-config').data ?? {};
      const worker = ofKind(objects, 'Deployment', 'step1x-worker').spec as {
        template: {
          spec: {
            terminationGracePeriodSeconds: number;
            securityContext: { runAsNonRoot: boolean };
            containers: Array<{ lifecycle?: { preStop?: unknown } }>;
          };
        };
      };
      const pod = worker.template.spec;
      // SHUTDOWN_GRACE_MS plus the worker's 10 s shutdown margin must end before the kubelet's SIGKILL.
      assert.ok(pod.terminationGracePeriodSeconds * 1000 > Number(config.SHUTDOWN_GRACE_MS) + 10_000);
      assert.ok(pod.containers[0].lifecycle?.preStop, 'a preStop hook starts the drain');
      assert.equal(pod.securityContext.runAsNonRoot, true);
      const egress = JSON.stringify(ofKind(objects, 'NetworkPolicy', 'step1x-egress').spec);
      assert.ok(egress.includes('169.254.169.254/32') && egress.includes('fd00:ec2::254/128'));
    });
  }

  it('gpu: one GPU per worker pod, on GPU nodes, with the CUDA image and provider', () => {
    const objects = objectsOf(rendered('overlays/gpu'));
    const text = JSON.stringify(ofKind(objects, 'Deployment', 'step1x-worker'));
    assert.ok(text.includes('"nvidia.com/gpu":1'));
    assert.ok(text.includes('"image":"step1x/worker:'));
    assert.ok(text.includes('"tolerations"') && text.includes('"nodeSelector"'));
    assert.equal(ofKind(objects, 'ConfigMap', 'step1x-config').data?.ORT_EXECUTION_PROVIDERS, 'cuda,cpu');
  });

  it('dev: Redis runs deploy/redis.conf (AOF on), and MinIO gets its bucket from a Job', () => {
    const copy = readFileSync(join(REPO_ROOT, 'k8s', 'overlays', 'dev', 'redis.conf'), 'utf8');
    const original = readFileSync(join(REPO_ROOT, 'deploy', 'redis.conf'), 'utf8');
    assert.equal(copy.split('\n').slice(2).join('\n'), original, 'k8s/overlays/dev/redis.conf is deploy/redis.conf');
    assert.match(original, /^appendonly yes$/m);
    const objects = objectsOf(rendered('overlays/dev'));
    assert.ok(objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis'));
    assert.ok(objects.some((o) => o.kind === 'Job' && o.metadata.name === 'minio-bucket-init'));
  });
});

describe('compose', () => {
  interface Service {
    healthcheck?: { test: unknown };
    depends_on?: Record<string, { condition: string }>;
    command?: string[];
    volumes?: string[];
  }
  const compose = parse(readFileSync(join(REPO_ROOT, 'deploy', 'compose.yaml'), 'utf8')) as {
    version: string;
    services: Record<string, Service>;
  };

  it('is compose v1-compatible (file format 2.x) with health checks and healthy-dependency ordering', () => {
    assert.match(compose.version, /^2\.\d$/);
    const oneShot = new Set(['s3-init', 'models']);
    for (const [name, service] of Object.entries(compose.services)) {
      if (!oneShot.has(name)) assert.ok(service.healthcheck, `${name} has a healthcheck`);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const expected = oneShot.has(dependency) ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, expected, `${name} -> ${dependency}`);
      }
    }
    assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'models', 'redis', 's3', 's3-init', 'worker']);
  });

  it('runs Redis on deploy/redis.conf and mounts the models read-only into the worker', () => {
    assert.ok(compose.services.redis.command?.includes('/etc/redis/step1x.conf'));
    assert.ok(compose.services.redis.volumes?.includes('./redis.conf:/etc/redis/step1x.conf:ro'));
    assert.ok(compose.services.worker.volumes?.includes('models:/models:ro'));
  });
});

describe('Dockerfiles (static checks; the CUDA base cannot be pulled here)', () => {
  const read = (name: string) => readFileSync(join(REPO_ROOT, 'docker', name), 'utf8');

  it('docker/Dockerfile: bases as pinned build args, non-root targets with health checks, no dev dependencies', () => {
    assert.deepEqual(
      lintDockerfile(read('Dockerfile'), { serviceTargets: ['api', 'worker', 'worker-cpu'], jobTargets: ['models'] }),
      [],
    );
  });

  it('the offline helper images follow the same rules', () => {
    assert.deepEqual(lintDockerfile(read('redis.Dockerfile'), { serviceTargets: [] }), []);
    assert.deepEqual(lintDockerfile(read('s3rver.Dockerfile'), { serviceTargets: [] }), []);
  });

  it('the rules catch a root image, an unpinned base, a missing health check and an install in the runtime stage', () => {
    const bad = [
      'ARG NODE_BASE=node',
      'FROM ${NODE_BASE} AS build',
      'RUN npm ci',
      'FROM ${NODE_BASE} AS api',
      'RUN npm install express',
      'FROM ubuntu:24.04 AS other',
      'CMD ["node"]',
    ].join('\n');
    const problems = lintDockerfile(bad, { serviceTargets: ['api'] });
    for (const expected of [
      /ARG NODE_BASE=node: pin/,
      /FROM ubuntu:24.04: the base must be a build argument/,
      /target api runs as root/,
      /target api installs packages/,
      /target api has no HEALTHCHECK/,
      /does not prune dev dependencies/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} not in ${JSON.stringify(problems)}`,
      );
    }
  });
});
