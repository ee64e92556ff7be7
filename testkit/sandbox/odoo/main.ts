import { startOdooSandbox } from './server';

/**
 * Standalone Odoo JSON-RPC sandbox: `npm run sandbox:odoo`.
 *   ODOO_SANDBOX_PORT (default 8069), ODOO_SANDBOX_HOST (default 127.0.0.1),
 *   ODOO_DATABASE_URL (default postgresql://odoo@127.0.0.1:5432/odoo — the stack's Odoo-shaped database),
 *   ODOO_SANDBOX_DB (database name clients must send; default: the one in ODOO_DATABASE_URL),
 *   ODOO_SANDBOX_USERS ("login:password,…"; default billing-bot:billing-bot),
 *   ODOO_SANDBOX_LOG=1 to print one line per call.
 * Point the pipeline at it with ODOO_URL=http://127.0.0.1:8069 ODOO_DB=odoo ODOO_USER=billing-bot ODOO_PASSWORD=billing-bot.
 */
async function main(): Promise<void> {
  const env = process.env;
  const sandbox = await startOdooSandbox({
    port: Number(env.ODOO_SANDBOX_PORT ?? 8069),
    host: env.ODOO_SANDBOX_HOST ?? '127.0.0.1',
    databaseUrl: env.ODOO_DATABASE_URL,
    dbName: env.ODOO_SANDBOX_DB,
    onRequest:
      env.ODOO_SANDBOX_LOG === '1'
        ? (e) =>
            console.log(
              `${new Date(e.time).toISOString()} ${e.service}.${e.rpcMethod}${e.model ? ` ${e.model}.${e.method}` : ''} → ${e.outcome}${e.errorName ? ` ${e.errorName}` : ''}${e.fault ? ` [fault ${e.fault}]` : ''} ${e.durationMs.toFixed(1)}ms`,
            )
        : undefined,
  });
  console.log(
    `Odoo sandbox listening: ODOO_URL=${sandbox.url} ODOO_DB=${sandbox.db} (user ${sandbox.credentials.user}); admin at ${sandbox.adminUrl}`,
  );
  const stop = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`Odoo sandbox failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
