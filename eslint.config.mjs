import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Workflow code is replayed by Temporal and must be deterministic: no Node built-ins there.
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.data/**', '.nx/**', 'gateway/supergraph.graphql'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='parseFloat']", message: 'Money is exact: use dec() from @ledgerline/contracts.' }],
    },
  },
  {
    files: ['workflows/src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node built-ins (use activities).' })) }],
    },
  },
  {
    // A service may import the shared contracts and libraries, never another service's code.
    files: ['services/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'services/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@ledgerline/*-service', '../../*/src/*', '../../../*/src/*', '../../../../*/src/*'], message: 'Services talk over NATS or GraphQL; import only @ledgerline/contracts, @ledgerline/platform or @ledgerline/rating.' }] }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', setTimeout: 'readonly', clearInterval: 'readonly', setInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', clearTimeout: 'readonly' } },
  },
);
