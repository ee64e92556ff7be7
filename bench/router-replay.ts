/**
 * The router's replay alone, beside a bare kafkajs consumer, over what the router topics hold now (no pass 1, no
 * projector): a quick loop for issue 17 §2's ratio while the router's code changes. `npx tsx bench/router-replay.ts
 * [rounds] [--profile=DIR] [--state-from=DB]`; each round runs the bare consumer and then the router (a fresh group
 * from the earliest offset, a fresh state database for its contract pins), each in a process of its own, and prints
 * both rates, their ratio and their CPU seconds per 100,000 events. `npm run bench -- resync` is the measurement of
 * record. A fresh state database has an empty ledger, so the router produces every intent it derives: the routing
 * alone. With `--state-from=odoo_opencell_sync_bench_resync` the state database is a copy of a resync's (its pass 1
 * ledger), and the router leaves out the finished intents (stages.ts unfinishedIntents) as in the resync's replay.
 */
import { benchKafka, startBenchPipeline, suffix, topicSize } from './common';
import { startChild, throughputOf } from './child-process';
import { PIPELINE_NODE_OPTIONS } from './processes';
import { routerTopics } from '../src/flows/projection/stages';

async function main() {
  const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1);
  const profile = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
  // e.g. --state-from=odoo_opencell_sync_bench_resync: the ledger of a resync's pass 1, so that the router leaves out
  // the intents it finished, as in the resync's replay
  const stateFrom = process.argv.find((a) => a.startsWith('--state-from='))?.slice('--state-from='.length);
  const admin = benchKafka().admin();
  await admin.connect();
  const nodeOptions = (
    process.argv.find((a) => a.startsWith('--node-options='))?.slice('--node-options='.length) ??
    PIPELINE_NODE_OPTIONS
  ).split(/\s+/);
  try {
    for (let round = 1; round <= rounds; round++) {
      const bp = await startBenchPipeline({
        name: 'routerreplay',
        start: false,
        routerFrom: 'earliest',
        stateTemplate: stateFrom,
      });
      try {
        const topics = routerTopics(bp.config.topics.prefix);
        const total = (await Promise.all(topics.map((t) => topicSize(admin, t)))).reduce((a, b) => a + b, 0);
        const run = (mode: 'bare' | 'router') =>
          throughputOf(
            mode === 'bare'
              ? startChild({ mode: 'bare', groupId: `bench-bare-${suffix()}`, topics }, bp.env, {
                  name: 'bare',
                  nodeOptions,
                })
              : startChild({ mode: 'run', roles: ['router'], groups: { router: bp.groups.router } }, bp.env, {
                  name: 'router',
                  nodeOptions,
                  cpuProfDir: profile,
                }),
            mode,
            total,
          );
        const bare = await run('bare');
        const router = await run('router');
        console.log(
          JSON.stringify({
            round,
            events: total,
            bare,
            router,
            ratio: Math.round((router.perSec / bare.perSec) * 100) / 100,
            cpuRatio: Math.round((bare.cpuPer100k / router.cpuPer100k) * 100) / 100,
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
