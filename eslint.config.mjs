import tseslint from 'typescript-eslint';

// Package boundaries (docs/ARCHITECTURE.md, "Package boundaries"), enforced with `no-restricted-imports`.
// test/tooling/eslint-boundaries.spec.ts lints fixtures that break each rule, so a rule cannot silently be off.

/** Test code, wherever it lives: it may use real clients, test support and the dev tools. */
export const TEST_FILES = [
  'test/**',
  '**/*.spec.ts',
  '**/*.int-spec.ts',
  '**/*.e2e-spec.ts',
  '**/*.golden-spec.ts',
  '**/*.testing.ts',
  '**/*.contract.ts',
  '**/testing/**',
];

/** What the API and worker processes are made of (and ship in their images). */
export const PRODUCTION_PACKAGES = [
  'apps/api',
  'apps/worker',
  'libs/config',
  'libs/contracts',
  'libs/edit-store',
  'libs/egress',
  'libs/imaging',
  'libs/job-queue',
  'libs/model-format',
  'libs/pipeline',
  'libs/storage',
  'libs/tensors',
  'libs/webhooks',
];

/** Dev and test scaffolding: the CLI, the graph builder, the local-services spawner, golden checks, test support. */
const SCAFFOLDING = [
  {
    group: ['@step1x/model-builder', '@step1x/model-builder/*'],
    message: 'the graph builder is a dev tool (CLI, tests); production loads built models from MODELS_DIR.',
  },
  {
    group: ['@step1x/local-services', '@step1x/local-services/*'],
    message: 'local-services spawns redis-server/s3rver for `npm start` and tests only.',
  },
  { group: ['@step1x/golden-checks', '@step1x/golden-checks/*'], message: 'golden checks are a dev tool.' },
  { group: ['@step1x/cli', '@step1x/cli/*'], message: 'the CLI is a launcher and dev tool, not a library.' },
  {
    group: ['**/test/*', '**/test/**', '**/testing/*', '**/*.testing', '**/*.contract', '@step1x/*/*.contract'],
    message: 'test support and test helpers are for tests.',
  },
  { group: ['node:test', 's3rver', 'standardwebhooks'], message: 'test-only modules (devDependencies).' },
  {
    regex: '^openai(/.*)?$',
    message: 'the official OpenAI client tests our OpenAI-compatible routes (devDependency).',
  },
];

/** Libraries are used by apps, never the other way round. */
const NO_APPS = {
  group: ['@step1x/api', '@step1x/api/*', '@step1x/worker', '@step1x/worker/*'],
  message: 'a library may not import an app.',
};

/** Clients of the outside world, and the adapter files that alone may import them (the ARCHITECTURE table). */
const CLIENTS = {
  ioredis: ['ioredis'],
  bullmq: ['bullmq', 'bullmq/*'],
  'onnxruntime-node': ['onnxruntime-node', 'onnxruntime-node/*'],
  '@aws-sdk': ['@aws-sdk/*'],
  sharp: ['sharp'],
  'rate-limiter-flexible': ['rate-limiter-flexible', 'rate-limiter-flexible/*'],
};
export const ADAPTER_FILES = [
  { files: ['libs/edit-store/src/redis-*.ts', 'libs/job-queue/src/redis-*.ts'], allow: ['ioredis'] },
  // Rate limits shared by every API replica: rate-limiter-flexible on our ioredis client.
  { files: ['libs/edit-store/src/redis-rate-limiter.ts'], allow: ['ioredis', 'rate-limiter-flexible'] },
  { files: ['libs/job-queue/src/bullmq-*.ts'], allow: ['bullmq', 'ioredis'] },
  { files: ['libs/pipeline/src/runtime/ort-session.ts'], allow: ['onnxruntime-node'] },
  { files: ['libs/storage/src/s3-object-store.ts'], allow: ['@aws-sdk'] },
  // libs/imaging is the image codec library, the only sharp importer.
  { files: ['libs/imaging/src/**/*.ts'], allow: ['sharp'] },
  // The service benchmark measures the raw clients beside the service (raw BullMQ, Redis memory, a test image).
  { files: ['apps/cli/src/bench/**/*.ts'], allow: ['bullmq', 'ioredis', 'sharp'] },
];
const clientBan = (client) => ({
  group: CLIENTS[client],
  message:
    `only ${ADAPTER_FILES.filter((a) => a.allow.includes(client))
      .flatMap((a) => a.files)
      .join(', ')} ` + `may import ${client} (docs/ARCHITECTURE.md, "Package boundaries").`,
});

const APP_BANS = {
  'apps/api': [{ group: ['@step1x/worker', '@step1x/worker/*'], message: 'the API and the worker deploy apart.' }],
  'apps/worker': [{ group: ['@step1x/api', '@step1x/api/*'], message: 'the API and the worker deploy apart.' }],
};
const DEV_PACKAGES = ['apps/cli', 'libs/model-builder', 'libs/local-services', 'libs/golden-checks'];

/**
 * One config object per package, plus one per adapter file group inside it: a later `no-restricted-imports`
 * replaces an earlier one for the files both match, so each object carries the whole list for its files.
 */
function boundaryConfigs() {
  const patternsFor = (dir, allowedClients) => {
    const production = PRODUCTION_PACKAGES.includes(dir);
    return [
      ...(production ? SCAFFOLDING : []),
      ...(production && dir.startsWith('libs/') ? [NO_APPS] : []),
      ...(APP_BANS[dir] ?? []),
      ...Object.keys(CLIENTS)
        .filter((client) => !allowedClients.includes(client))
        .map(clientBan),
    ];
  };
  const rule = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
  return [...PRODUCTION_PACKAGES, ...DEV_PACKAGES].flatMap((dir) => [
    { files: [`${dir}/src/**/*.ts`], ignores: TEST_FILES, rules: rule(patternsFor(dir, [])) },
    ...ADAPTER_FILES.map((adapter) => ({
      files: adapter.files.filter((file) => file.startsWith(`${dir}/`)),
      allow: adapter.allow,
    }))
      .filter((adapter) => adapter.files.length > 0)
      .map((adapter) => ({ files: adapter.files, ignores: TEST_FILES, rules: rule(patternsFor(dir, adapter.allow)) })),
  ]);
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...boundaryConfigs(),
  { files: ['**/bin/*.js', 'docker/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
