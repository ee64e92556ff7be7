/**
 * One Odoo change followed end to end by its W3C trace id (issue 16, "Observability"): the intent message's
 * `traceparent` header, the OpenCell calls' `traceparent` header (as the sandbox received them), the outbox row and
 * the sync event's header on Kafka (relay), and the pipeline's log lines. Real CDC, the pipeline's own topics.
 */
import { expect } from 'chai';
import type { KafkaMessage } from 'kafkajs';
import { parseTraceparent } from '../../src/core/trace';
import { createOutboxRelay, OutboxRelay } from '../../src/flows/outbox/relay';
import { changeTrace } from '../../src/flows/projection/stages';
import type { IntentMessage } from '../../src/domain/intents/message';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { eventually, odooDb, stateDb, testKafka, uniqueSuffix } from './support/stack';
import { captureLogLines } from '../support/log-capture';

const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString();

async function readTopic(topic: string, until: (got: KafkaMessage[]) => boolean): Promise<KafkaMessage[]> {
  const got: KafkaMessage[] = [];
  const consumer = testKafka().consumer({ groupId: `test-trace-reader-${uniqueSuffix()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await eventually(async () => (until(got) ? true : undefined), 30_000, `messages on ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('trace context: one Odoo change followed by its trace id', function () {
  this.timeout(150_000);
  let t: TestPipeline | undefined;
  let relay: OutboxRelay | undefined;
  const capture = captureLogLines();
  const { lines } = capture;

  before(() => {
    capture.attach(); // the test's transport alone hears the pipeline's info lines
  });
  after(async function () {
    // a failed run shows the pipeline's warnings and errors this test's transport swallowed
    if (this.currentTest?.state !== 'passed')
      for (const l of lines.filter((x) => x.level === 'error' || x.level === 'warn').slice(0, 8))
        console.log(JSON.stringify(l).slice(0, 400));
    await relay?.stop();
    await t?.stop();
    capture.detach();
  });

  it('intent header, OpenCell call headers, outbox row, sync event header and log lines carry the change’s trace id', async () => {
    const s = uniqueSuffix();
    const projected: IntentMessage[] = [];
    t = await startTestPipeline(
      { INVOICE_EVENTS_TOPIC: `test.invoice-events-${s}` },
      { onProjected: (msg, r) => void (r.calls.includes('createSubscription') && projected.push(msg)) },
    );
    relay = createOutboxRelay(
      t.config,
      { pool: t.pipeline.statePool, kafka: testKafka() },
      { pollMs: 200, lockKey: 0x7472616365 + Math.floor(Math.random() * 1e6) },
    );
    await relay.start();

    const owner = odooDb();
    const partner = await insertPartner(owner, { email: `trace${s}@example.org` });
    const mandate = await insertBankAccountAndMandate(owner, partner.id);
    const contract = await insertContract(owner, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
    });
    // the intent that created the subscription (the contract's or, when it came first, one of its lines')
    const create = await eventually(
      async () => projected.find((m) => m.contractId === contract.id),
      60_000,
      `the subscription of ${contract.code} created`,
    );
    const traceId = changeTrace(create.source).traceId;

    // 1. the intent message the router produced
    const intents = await readTopic(t.config.topics.intents, (got) =>
      got.some((m) => header(m, 'intent_id') === create.intentId),
    );
    const intentMsg = intents.find((m) => header(m, 'intent_id') === create.intentId)!;
    expect(parseTraceparent(header(intentMsg, 'traceparent'))?.traceId).to.equal(traceId);

    // 2. the OpenCell calls that created the subscription, as the sandbox received them
    const calls = t.sandbox.journal
      .entries({ method: 'POST', path: '/billing/subscription' })
      .filter((e) => JSON.stringify(e.body ?? '').includes(contract.code));
    expect(calls.length, 'subscription create calls').to.be.greaterThan(0);
    for (const c of calls) expect(parseTraceparent(c.traceparent)?.traceId).to.equal(traceId);

    // 3. the outbox row of its sync event, and 4. the sync event on Kafka (relay)
    const row = await eventually(
      async () =>
        (
          await stateDb().query<{ event_id: string; traceparent: string | null }>(
            `SELECT event_id::text, traceparent FROM outbox
              WHERE topic = $1 AND payload->'source'->>'lsn' = $2 AND payload->>'action' = $3
                AND payload->'calls' ? 'createSubscription'`,
            [t!.config.topics.syncEvents, String(create.source.lsn), create.intent.kind],
          )
        ).rows[0],
      30_000,
      'the outbox row of the sync event',
    );
    expect(parseTraceparent(row.traceparent)?.traceId).to.equal(traceId);
    const events = await readTopic(t.config.topics.syncEvents, (got) =>
      got.some((m) => header(m, 'event_id') === row.event_id),
    );
    const event = events.find((m) => header(m, 'event_id') === row.event_id)!;
    expect(parseTraceparent(header(event, 'traceparent'))?.traceId).to.equal(traceId);

    // 5. the log lines: the projector's line for this intent carries the trace id
    const mine = lines.filter((l) => l.traceId === traceId);
    expect(mine.some((l) => l.intentId === create.intentId && l.component === 'projector')).to.equal(true);
    console.log(
      `      trace ${traceId}: ${calls.length} OpenCell call(s), ${mine.length} log line(s), sync event ${row.event_id}`,
    );
  });
});
