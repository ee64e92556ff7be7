import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layer boundaries (docs/architecture.md): src/ never imports the testkit (sandboxes, demo, fixtures: not part of the
 * build), and src/domain/ stays pure — no adapters, flows, app or core (logger, config loading), and no node I/O
 * module. A violation fails `npm run lint` (test/unit/lint-boundaries.test.ts proves the rules are live).
 */
const NO_TESTKIT = { group: ['**/testkit', '**/testkit/**'], message: 'src/ must not depend on testkit/.' };
const IO_MODULES = [
  'pg',
  'kafkajs',
  'node-fetch',
  'winston',
  'prom-client',
  '@kafkajs/confluent-schema-registry',
  ...['fs', 'fs/promises', 'http', 'https', 'http2', 'net', 'dgram', 'child_process', 'worker_threads', 'cluster']
    .flatMap((m) => [m, `node:${m}`]),
].map((name) => ({ name, message: 'src/domain/ is pure: I/O belongs in src/adapters/.' }));

export const boundaryRules = {
  src: { 'no-restricted-imports': ['error', { patterns: [NO_TESTKIT] }] },
  domain: {
    'no-restricted-imports': [
      'error',
      {
        paths: IO_MODULES,
        patterns: [
          NO_TESTKIT,
          {
            group: ['**/adapters', '**/adapters/**', '**/flows', '**/flows/**', '**/app', '**/app/**', '**/core/**'],
            message: 'src/domain/ may import only src/domain/ (no adapters, flows, app or core).',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', '.cache/**', 'node_modules/**', '.run/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: ['src/**/*.ts'], rules: boundaryRules.src },
  { files: ['src/domain/**/*.ts'], rules: boundaryRules.domain },
);
