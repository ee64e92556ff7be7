/**
 * Seeds the Odoo database with demo data (testkit/demo-seed.ts).
 *
 *   npx tsx scripts/seed-demo.ts --partners 50 [--seed 42] [--since 2024-01-01]
 *       [--database-url postgresql://odoo@127.0.0.1:5432/odoo]
 *
 * The URL defaults to ODOO_DATABASE_URL, then to the local stack's Odoo database. Safe to run twice: partners
 * already seeded for the same seed are skipped, catalog inserts are ON CONFLICT DO NOTHING.
 */
import { Client } from 'pg';
import { seedDemo } from '../testkit/demo-seed';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

function intArg(name: string, dflt: number): number {
  const raw = arg(name);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return Number(raw);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(
      'usage: seed-demo.ts --partners N [--seed S] [--since YYYY-MM-DD] [--database-url URL]\n',
    );
    return;
  }
  const url =
    arg('database-url') ?? process.env.ODOO_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/odoo';
  const partners = intArg('partners', 50);
  const seed = intArg('seed', 42);
  const since = arg('since');
  const client = new Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  try {
    const r = await seedDemo(client, { partners, seed, since, log: (m) => process.stderr.write(`${m}\n`) });
    process.stdout.write(
      `${JSON.stringify({ ...r, seed, database: new URL(url).pathname.slice(1), ms: Date.now() - started })}\n`,
    );
  } finally {
    await client.end();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`seed-demo: ${(e as Error).message}\n`);
  process.exit(1);
});
