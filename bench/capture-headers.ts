/**
 * What Debezium's context headers (`__debezium.context.*`, four per record while `extended.headers.enabled` is on)
 * cost a consumer: `npx tsx bench/capture-headers.ts [--records=200000] [--rounds=3]`. Copies the newest records of
 * the partner capture topic that carry them twice into throw-away topics (3 partitions each), once as Debezium wrote
 * them and once without their headers (the same keys and values), then reads each with the bare kafkajs consumer of the resync
 * benchmark in a process of its own, alternated in rounds, and prints events/s, CPU-seconds per 100,000 events and
 * bytes per record for both. The topics are deleted at the end. The capture's side of the setting is
 * bench/capture-settings.ts (`--setting=extended.headers.enabled`).
 */
import type { IHeaders } from 'kafkajs';
import { benchKafka, startBenchPipeline, suffix, topicSize } from './common';
import { startChild, throughputOf } from './child-process';
import { PIPELINE_NODE_OPTIONS } from './processes';
import { topicFor } from '../src/domain/capture';

const arg = (name: string, dflt: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;

interface Copied {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
}

async function main() {
  const records = Number(arg('records', '200000'));
  const rounds = Number(arg('rounds', '3'));
  const kafka = benchKafka();
  const admin = kafka.admin();
  await admin.connect();
  const bp = await startBenchPipeline({ name: 'headers', start: false });
  const source = topicFor('res_partner', bp.config.topics.prefix);
  const sfx = suffix();
  const topics = { on: `bench.headers-on-${sfx}`, off: `bench.headers-off-${sfx}` };
  try {
    // 1. The newest `records` records of the capture topic (a throw-away group from the earliest offset, kept last).
    const ends = await admin.fetchTopicOffsets(source);
    const available = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    // the read below ends after `available` records: an empty topic would never end it
    if (available === 0) throw new Error(`${source} is empty: capture some partner changes first`);
    const copied: Copied[] = [];
    let withHeaders = 0;
    const consumer = kafka.consumer({ groupId: `bench-headers-read-${sfx}` });
    await consumer.connect();
    await consumer.subscribe({ topic: source, fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            seen++;
            if (!m.headers || Object.keys(m.headers).length === 0) continue;
            withHeaders++;
            copied.push({ key: m.key, value: m.value, headers: m.headers });
          }
          if (seen >= available) resolve();
        },
      });
    });
    await consumer.disconnect();
    copied.splice(0, Math.max(0, copied.length - records)); // the newest `records` of them
    if (copied.length < records)
      throw new Error(
        `no record of ${source} carries headers: nothing to compare (was the topic captured with them?)`,
      );

    // 2. The two copies, the same records in the same partitions (by key).
    await admin.createTopics({
      topics: [topics.on, topics.off].map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < copied.length; i += 400) {
      const slice = copied.slice(i, i + 400);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: topics.on,
            messages: slice.map((c) => ({ key: c.key, value: c.value, headers: c.headers })),
          },
          { topic: topics.off, messages: slice.map((c) => ({ key: c.key, value: c.value })) },
        ],
      });
    }
    await producer.disconnect();
    const bytes = (headers: boolean) =>
      Math.round(
        copied.reduce(
          (n, c) =>
            n +
            (c.key?.length ?? 0) +
            (c.value?.length ?? 0) +
            (headers
              ? Object.entries(c.headers ?? {}).reduce(
                  (h, [k, v]) => h + k.length + (Buffer.isBuffer(v) ? v.length : String(v ?? '').length),
                  0,
                )
              : 0),
          0,
        ) / copied.length,
      );
    console.log(
      JSON.stringify({
        records: copied.length,
        withHeaders,
        bytesPerRecord: { on: bytes(true), off: bytes(false) },
      }),
    );

    // 3. The bare consumer over each copy, alternated.
    for (let round = 1; round <= rounds; round++) {
      const r: Record<string, unknown> = { round };
      for (const side of ['on', 'off'] as const) {
        const topic = topics[side];
        const total = await topicSize(admin, topic);
        r[side] = await throughputOf(
          startChild(
            { mode: 'bare', groupId: `bench-headers-${side}-${suffix()}`, topics: [topic] },
            bp.env,
            {
              name: `bare-${side}`,
              nodeOptions: PIPELINE_NODE_OPTIONS.split(/\s+/),
            },
          ),
          'bare',
          total,
        );
      }
      console.log(JSON.stringify(r));
    }
  } finally {
    await admin.deleteTopics({ topics: [topics.on, topics.off] }).catch(() => undefined);
    await bp.stop();
    await admin.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
