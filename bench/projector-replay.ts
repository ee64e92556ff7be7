/**
 * The projector's replay alone over an intents topic whose intents a state database's ledger has finished (what a
 * resync run leaves: `npm run bench -- resync` keeps its intents topic and its state database): a fresh projector
 * group from the earliest offset, on a copy of that state database (so that every round starts from the same
 * ledger), in a process of its own. `npx tsx bench/projector-replay.ts <intents topic> <state database> [rounds]`
 * prints the intents/s, the CPU seconds per 100,000 intents and the OpenCell calls made.
 */
import { Client } from 'pg';
import { benchKafka, startBenchPipeline, suffix, topicSize } from './common';
import { startChild, throughputOf } from './child-process';
import { PIPELINE_NODE_OPTIONS } from './processes';
import { defaultPgSetupOptions } from '../src/app/pg-setup';

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const profile = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
  const [topic, stateDb, roundsArg] = args;
  if (!topic || !stateDb)
    throw new Error('usage: projector-replay.ts <intents topic> <state database> [rounds]');
  const rounds = Number(roundsArg ?? 1);
  const admin = benchKafka().admin();
  await admin.connect();
  const adminUrl = defaultPgSetupOptions().adminUrl;
  try {
    const total = await topicSize(admin, topic);
    for (let round = 1; round <= rounds; round++) {
      const copy = `${stateDb}_copy`;
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${copy} TEMPLATE ${stateDb}`);
      await c.end();
      const bp = await startBenchPipeline({ name: 'projreplay', start: false });
      const url = new URL(bp.env.STATE_DATABASE_URL!);
      url.pathname = `/${copy}`;
      const env = { ...bp.env, INTENTS_TOPIC: topic, STATE_DATABASE_URL: url.toString() };
      try {
        const group = `bench-projector-replay-${suffix()}`;
        const child = startChild({ mode: 'run', roles: ['projector'], groups: { projector: group } }, env, {
          name: 'projector',
          nodeOptions: PIPELINE_NODE_OPTIONS.split(/\s+/),
          cpuProfDir: profile,
        });
        const t = await throughputOf(child, 'projector', total);
        console.log(
          JSON.stringify({
            round,
            intents: t.messages,
            seconds: t.seconds,
            perSec: t.perSec,
            cpuPer100k: t.cpuPer100k,
            opencellCalls: bp.sandbox.journal.entries().length,
            rssMiB: t.rssMiB,
          }),
        );
      } finally {
        await bp.stop();
      }
    }
  } finally {
    await admin.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
