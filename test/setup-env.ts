// Test runs log only errors unless LOG_LEVEL says otherwise (set before the logger is created).
process.env.LOG_LEVEL ??= 'error';
process.env.NODE_ENV ??= 'test';

// A stack of one's own beside the shared one (README, "A second stack beside the first"): the same STACK_PORT_OFFSET,
// ODOO_DB_NAME and STATE_DB_NAME that `scripts/stack up` was given point the tests, and the pipelines and CLI
// processes they start, at it. Explicit KAFKA_BROKERS, CONNECT_URL, … still win. The pipeline reads Odoo as
// sync_reader, as with the default stack; the tests' own Odoo handle (test/integration/support/stack.ts) is the owner.
{
  const env = process.env;
  const offset = Number(env.STACK_PORT_OFFSET ?? 0);
  if (offset) {
    env.KAFKA_BROKERS ??= `127.0.0.1:${9092 + offset}`;
    env.CONNECT_URL ??= `http://127.0.0.1:${8083 + offset}`;
    if (env.STACK_REGISTRY !== '0')
      env.SCHEMA_REGISTRY_URL ??= `http://127.0.0.1:${8081 + offset}/apis/ccompat/v7`;
  }
  if (env.ODOO_DB_NAME) {
    env.ODOO_DATABASE_URL ??= `postgresql://sync_reader:sync_reader@127.0.0.1:5432/${env.ODOO_DB_NAME}`;
    env.ODOO_SIGNAL_DATABASE_URL ??= `postgresql://sync_ops:sync_ops@127.0.0.1:5432/${env.ODOO_DB_NAME}`;
    env.TEST_ODOO_DATABASE_URL ??= `postgresql://odoo@127.0.0.1:5432/${env.ODOO_DB_NAME}`;
  }
  if (env.STATE_DB_NAME) env.STATE_DATABASE_URL ??= `postgresql://sync@127.0.0.1:5432/${env.STATE_DB_NAME}`;
}

// The supported runtime (docs/decisions/0001-node-24-runtime.md): say which Node runs the tests, refuse an older one.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `error: the tests need Node.js 24 or later, ${process.version} found; run them with npm test\n`,
  );
  process.exit(1);
}
if (!process.env.MOCHA_WORKER_ID && !process.env.SYNC_NODE_VERSION_SHOWN) {
  process.env.SYNC_NODE_VERSION_SHOWN = '1';
  process.stdout.write(`[test] Node.js ${process.version} (${process.execPath})\n`);
}
