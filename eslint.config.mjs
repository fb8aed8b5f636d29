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
  { files: ['**/bin/*.js', 'docker/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
