import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Only adapter files talk to the outside world (see docs/ARCHITECTURE.md).
      'no-restricted-imports': 'off',
    },
  },
  {
    // Golden checks are dev/test tooling (docs/ARCHITECTURE.md): the CLI's `golden` command and the test suites
    // use them; no production package may ship them.
    files: ['apps/api/**/*.ts', 'apps/worker/**/*.ts', 'libs/!(golden-checks)/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@step1x/golden-checks', message: 'golden checks are test tooling, not production code' }] },
      ],
    },
  },
  { files: ['**/bin/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
