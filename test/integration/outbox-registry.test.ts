import { expect } from 'chai';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { SyncError } from '../../src/domain/errors';
import { EventSchemas, loadAvroSchema, subjectFor } from '../../src/adapters/registry/schemas';
import { OutboxRelay } from '../../src/flows/outbox/relay';
import { appendOutbox } from '../../src/adapters/postgres/outbox-store';
import { fullSyncEvent } from '../../testkit/outbox';
import { switchableRegistry } from './support/registry-proxy';
import { REGISTRY_URL, eventually, stateDb, testKafka, uniqueSuffix } from './support/stack';

/** topics of this run: their outbox rows are deleted at the end */
const usedTopics: string[] = [];

async function topicsFor(sfx: string) {
  const topics = {
    syncEvents: `test.outbox-sync-events-${sfx}`,
    invoiceEvents: `test.outbox-invoice-events-${sfx}`,
  };
  usedTopics.push(topics.syncEvents, topics.invoiceEvents);
  const admin = testKafka().admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: topics.syncEvents }, { topic: topics.invoiceEvents }]);
  await admin.disconnect();
  return topics;
}

describe('outbox relay and the schema registry on the real stack', () => {
  const relays: OutboxRelay[] = [];
  after(async () => {
    await stateDb().query('DELETE FROM outbox WHERE topic = ANY($1::text[])', [usedTopics]);
  });
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.stop();
  });

  it('registry down: rows wait, the relay retries with backoff, then publishes once the registry answers', async () => {
    const sfx = uniqueSuffix();
    const topics = await topicsFor(sfx);
    const proxy = await switchableRegistry(false);
    try {
      const errors: string[] = [];
      const relay = new OutboxRelay({
        pool: stateDb(),
        kafka: testKafka(),
        registry: new EventSchemas({ registryUrl: proxy.url, topics, timeoutMs: 1000 }),
        pollMs: 300,
        retryInitialMs: 100,
        retryMaxMs: 800,
        lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
        metrics: { onError: (e) => errors.push((e as SyncError).code) },
      });
      relays.push(relay);
      await relay.start(); // does not fail: the registry may come back
      const ev = fullSyncEvent();
      const c = await stateDb().connect();
      try {
        await c.query('BEGIN');
        await appendOutbox(c, {
          type: 'SyncOutcome',
          topic: topics.syncEvents,
          aggregateType: 'contract',
          aggregateId: 'contract:5',
          payload: ev,
        });
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      await new Promise((r) => setTimeout(r, 2500));
      const pending = async () =>
        (
          await stateDb().query('SELECT 1 FROM outbox WHERE event_id = $1 AND published_at IS NULL', [
            ev.eventId,
          ])
        ).rowCount;
      expect(await pending(), 'still pending while the registry is down').to.equal(1);
      expect(errors.length).to.be.greaterThan(1);
      expect(new Set(errors)).to.deep.equal(new Set(['NETWORK']));
      expect(relay.state).to.equal('running');

      proxy.up = true;
      await eventually(
        async () => ((await pending()) === 0 ? true : undefined),
        20_000,
        'published after the registry is back',
      );
      expect(relay.publishedCount).to.equal(1);
    } finally {
      await proxy.close();
    }
  });

  it('a schema incompatible with what is registered under <topic>-value fails start-up with SCHEMA_INCOMPATIBLE', async () => {
    const sfx = uniqueSuffix();
    const topics = await topicsFor(sfx);
    // another producer registered a different SyncEvent under the subject first
    const legacy = {
      type: 'record',
      name: 'SyncEvent',
      namespace: 'coop.somconnexio.sync.events',
      fields: [{ name: 'legacyId', type: 'string' }],
    };
    await new SchemaRegistry({ host: REGISTRY_URL }).register(
      { type: SchemaType.AVRO, schema: JSON.stringify(legacy) },
      { subject: subjectFor(topics.syncEvents) },
    );
    const relay = new OutboxRelay({
      pool: stateDb(),
      kafka: testKafka(),
      registry: new EventSchemas({ registryUrl: REGISTRY_URL, topics }),
      lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
    });
    let err: unknown;
    try {
      await relay.start();
      relays.push(relay);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SyncError);
    expect((err as SyncError).code).to.equal('SCHEMA_INCOMPATIBLE');
    expect((err as SyncError).retriable).to.equal(false);
    expect((err as Error).message)
      .to.contain(subjectFor(topics.syncEvents))
      .and.to.contain('sync-event.avsc');
    expect(relay.state).to.equal('failed');
  });

  it('a compatible evolution (new field with a default) registers a new version; re-registering is idempotent', async () => {
    const sfx = uniqueSuffix();
    const topics = await topicsFor(sfx);
    const first = new EventSchemas({ registryUrl: REGISTRY_URL, topics });
    await first.register();
    const again = new EventSchemas({ registryUrl: REGISTRY_URL, topics });
    await again.register();
    expect(again.schemaId('SyncOutcome')).to.equal(first.schemaId('SyncOutcome'));
    const base = loadAvroSchema('SyncOutcome');
    const evolved = {
      ...base,
      fields: [...(base.fields as object[]), { name: 'tenant', type: ['null', 'string'], default: null }],
    };
    const next = new EventSchemas({
      registryUrl: REGISTRY_URL,
      topics,
      schemaOverrides: { SyncOutcome: evolved },
    });
    await next.register();
    expect(next.schemaId('SyncOutcome')).to.not.equal(first.schemaId('SyncOutcome'));
    // removing a required field's counterpart (a new field without default) is refused
    const broken = { ...base, fields: [...(base.fields as object[]), { name: 'tenant2', type: 'string' }] };
    let err: unknown;
    try {
      await new EventSchemas({
        registryUrl: REGISTRY_URL,
        topics,
        schemaOverrides: { SyncOutcome: broken },
      }).register();
    } catch (e) {
      err = e;
    }
    expect((err as SyncError).code).to.equal('SCHEMA_INCOMPATIBLE');
  });

  it('a subject whose compatibility level is not BACKWARD (e.g. NONE) is set to BACKWARD instead of tripping the client pre-check', async () => {
    const sfx = uniqueSuffix();
    const topics = await topicsFor(sfx);
    const subject = subjectFor(topics.syncEvents);
    await new SchemaRegistry({ host: REGISTRY_URL })
      .register(
        { type: SchemaType.AVRO, schema: JSON.stringify(loadAvroSchema('SyncOutcome')) },
        { subject, compatibility: 'NONE' as never },
      )
      .catch(() => undefined);
    const put = await fetch(`${REGISTRY_URL}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'NONE' }),
    });
    expect(put.status).to.equal(200);
    const schemas = new EventSchemas({ registryUrl: REGISTRY_URL, topics });
    await schemas.register();
    const level = (await (await fetch(`${REGISTRY_URL}/config/${encodeURIComponent(subject)}`)).json()) as {
      compatibilityLevel: string;
    };
    expect(level.compatibilityLevel).to.equal('BACKWARD');
  });
});
