import { startOpenCellSandbox } from './server';

/**
 * Standalone OpenCell sandbox: `npm run sandbox:opencell`.
 *   OPENCELL_SANDBOX_PORT (default 8070), OPENCELL_SANDBOX_HOST (default 127.0.0.1),
 *   OPENCELL_SANDBOX_USER / OPENCELL_SANDBOX_PASSWORD (default opencell.superadmin / opencell.superadmin),
 *   OPENCELL_SANDBOX_CATALOG (catalog JSON file), OPENCELL_SANDBOX_PROFILE (v10|v11|v14),
 *   OPENCELL_SANDBOX_LOG=1 to print one line per request.
 * Point the pipeline at it with OPENCELL_BASEURL=http://127.0.0.1:8070/opencell.
 */
async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.OPENCELL_SANDBOX_PORT ?? 8070);
  const profile = env.OPENCELL_SANDBOX_PROFILE as 'v10' | 'v11' | 'v14' | undefined;
  const sandbox = await startOpenCellSandbox({
    port,
    host: env.OPENCELL_SANDBOX_HOST ?? '127.0.0.1',
    user: env.OPENCELL_SANDBOX_USER,
    password: env.OPENCELL_SANDBOX_PASSWORD,
    catalog: env.OPENCELL_SANDBOX_CATALOG,
    profile,
    onRequest:
      env.OPENCELL_SANDBOX_LOG === '1'
        ? (e) =>
            console.log(
              `${new Date(e.time).toISOString()} ${e.method} ${e.path} → ${e.status}${e.errorCode ? ` ${e.errorCode}` : ''}${e.fault ? ` [fault ${e.fault}]` : ''} ${e.durationMs.toFixed(1)}ms`,
            )
        : undefined,
  });
  console.log(
    `OpenCell sandbox listening: OPENCELL_BASEURL=${sandbox.url} (user ${sandbox.credentials.user}); admin at ${sandbox.adminUrl}`,
  );
  const stop = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`OpenCell sandbox failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
