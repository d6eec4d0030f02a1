// Flat config: typescript-eslint's recommended rules with `any` forbidden, plus the repository's guardrails
// (ARCHITECTURE.md, "Dependency rules"): module boundaries, no fastify in protocol code, route modules that do not
// import each other, and size limits. Import cycles, type-only ones included, are checked by
// scripts/check-cycles.mjs (import-x's no-cycle skips `import type`).
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const layerMessage = 'connectors/, storage/ and web/ never import src/: src depends on them, not the other way round.';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'connectors/**/*.ts', 'storage/**/*.ts', 'web/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })] },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './connectors', from: './src', message: layerMessage },
            { target: './storage', from: './src', message: layerMessage },
            { target: './web', from: './src', message: layerMessage },
            {
              target: './src/http/*-routes.ts',
              from: './src/http/*-routes.ts',
              message: 'Route modules do not import each other; share helpers through a non-route module.',
            },
          ],
        },
      ],
    },
  },
  {
    // Protocol code is plain functions over parsed values: HTTP stays in src/http.
    files: ['src/oauth/**/*.ts', 'src/signer/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*'],
              message: 'src/oauth and src/signer never import fastify (src/http does).',
            },
          ],
        },
      ],
    },
  },
  {
    // Size limits (CONTRIBUTING.md): files under 400 lines, functions under 60, at most 4 positional parameters,
    // on all production code. Tests are specifications and may be long.
    files: ['src/**/*.ts', 'connectors/**/*.ts', 'storage/**/*.ts', 'web/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 60 }],
      'max-params': ['error', 4],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
