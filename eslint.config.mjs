// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', 'coverage/', '.herald/', 'bench/prototypes/', 'bench-bundle/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Rows and test payloads are loosely typed on purpose in a few places.
      '@typescript-eslint/no-explicit-any': 'off',
      // CommonJS is what the Temporal worker bundler and Jest load here.
      '@typescript-eslint/no-require-imports': 'off',
      // Input validation matches control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  { files: ['*.js'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins (as in
    // temporalio/samples-typescript); test/unit/workflow-imports.test.ts guards the rest.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: builtinModules.flatMap((m) => [m, `node:${m}`]) }],
    },
  },
);
