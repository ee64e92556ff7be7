// Test runs log only errors unless LOG_LEVEL says otherwise (set before the logger is created).
process.env.LOG_LEVEL ??= 'error';
process.env.NODE_ENV ??= 'test';

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
