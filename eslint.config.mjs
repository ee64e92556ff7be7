import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layer boundaries (docs/architecture.md): src/ never imports the testkit (sandboxes, demo, fixtures: not part of the
 * build), src/domain/ stays pure — no adapters, flows, app or core (logger, config loading), and no node I/O
 * module — and the other layers depend only inwards. A violation fails `npm run lint`
 * (test/unit/lint-boundaries.test.ts proves the rules are live).
 */
const NO_TESTKIT = { group: ['**/testkit', '**/testkit/**'], message: 'src/ must not depend on testkit/.' };
const IO_MODULES = [
  'pg',
  'kafkajs',
  'node-fetch',
  'winston',
  'prom-client',
  '@kafkajs/confluent-schema-registry',
  ...[
    'fs',
    'fs/promises',
    'http',
    'https',
    'http2',
    'net',
    'dgram',
    'child_process',
    'worker_threads',
    'cluster',
  ].flatMap((m) => [m, `node:${m}`]),
].map((name) => ({ name, message: 'src/domain/ is pure: I/O belongs in src/adapters/.' }));

const layers = (names, message) => ({
  group: names.flatMap((n) => [`**/${n}`, `**/${n}/**`]),
  message,
});
const restrict = (patterns, paths = []) => ({
  'no-restricted-imports': ['error', { paths, patterns: [NO_TESTKIT, ...patterns] }],
});

/** Dependencies point inwards: app → flows → adapters → domain; core (logger, config) serves all but the domain. */
export const boundaryRules = {
  src: restrict([]),
  domain: restrict(
    [
      layers(
        ['adapters', 'flows', 'app', 'core'],
        'src/domain/ may import only src/domain/ (no adapters, flows, app or core).',
      ),
    ],
    IO_MODULES,
  ),
  adapters: restrict([layers(['flows', 'app'], 'src/adapters/ may not import src/flows/ or src/app/.')]),
  flows: restrict([layers(['app'], 'src/flows/ may not import src/app/.')]),
  core: restrict([layers(['adapters', 'flows', 'app'], 'src/core/ may import only src/domain/.')]),
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
  { files: ['src/adapters/**/*.ts'], rules: boundaryRules.adapters },
  { files: ['src/flows/**/*.ts'], rules: boundaryRules.flows },
  { files: ['src/core/**/*.ts'], rules: boundaryRules.core },
  // Every pool of the pipeline comes from createPool (src/adapters/postgres/pool.ts): a pool without its 'error'
  // listeners ends the process when PostgreSQL drops an idle connection (a restart, a failover, pg_terminate_backend).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/postgres/pool.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Pool']",
          message: 'open PostgreSQL pools with createPool (src/adapters/postgres/pool.ts), not new Pool.',
        },
      ],
    },
  },
  // The tests' pools come from testPool (test/support/pg.ts): a bare pool's end() resolves before its sessions are
  // closed and its unhandled 'error' event ends the mocha process (a CI run failed so).
  {
    files: ['test/**/*.ts'],
    ignores: ['test/support/pg.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Pool']",
          message: 'open PostgreSQL pools in tests with testPool (test/support/pg.ts), not new Pool.',
        },
      ],
    },
  },
);
