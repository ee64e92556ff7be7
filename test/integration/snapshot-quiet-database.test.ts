/**
 * docs/decisions/0002-snapshot-signals.md, "Closing the chunk window on a quiet database": Debezium's read-only
 * incremental snapshot buffers each chunk until the stream shows a change past the chunk's high watermark. When
 * another transaction is open on the PostgreSQL server while a chunk is read (any database: the pipeline's own state
 * database, an Odoo cron), its idle polls cannot release the chunk, and on a quiet Odoo database nothing else does:
 * the snapshot waited for the next Odoo write. The connector's heartbeat.action.query rewrites one signal-table row
 * every heartbeat, a streamed change that closes the window.
 *
 * The shared Odoo database is written by other tests, so this test gets one nobody writes: a database of its own on
 * the same server, set up by pg-setup (schema, publication, read-only grants, the heartbeat function), and a connector
 * of its own from connectors/odoo-billing.json (its own slot and topic prefix, no initial snapshot, chunks of 50 rows).
 * It holds a transaction open in the state database for the whole snapshot and asserts that nothing but the
 * snapshot's signal and the heartbeat row was streamed from the database meanwhile.
 */
import { expect } from 'chai';
import type { Admin } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { testPool } from '../support/pg';
import { ConnectClient } from '../../src/adapters/kafka-connect/client';
import { loadConnectorTemplate } from '../../src/adapters/kafka-connect/connector-config';
import { loadConfig } from '../../src/core/config';
import {
  defaultPgSetupOptions,
  setupOdooDatabase,
  SNAPSHOT_HEARTBEAT_SIGNAL_ID,
} from '../../src/app/pg-setup';
import { buildSnapshotSignal, runSnapshot } from '../../src/app/snapshot';
import {
  CONNECT_URL,
  eventually,
  ODOO_DATABASE_URL,
  stateDb,
  testKafka,
  uniqueSuffix,
} from './support/stack';

const ROWS = 110; // three chunks: each closes on a heartbeat, the case this test is about
// the project's heartbeat is 10 s; 2 s here makes the same three windows close in a third of the time
const HEARTBEAT_MS = 2000;
const CHUNK = 50;

function withDatabase(url: string, db: string, user?: { name: string; password: string }): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
}

interface Change {
  op: string;
  id: string | number;
}

describe('an incremental snapshot completes on a quiet Odoo database (read-only connector, real stack)', function () {
  this.timeout(420_000);
  const sfx = uniqueSuffix()
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase();
  const dbName = `odoo_quiet_${sfx}`;
  const prefix = `quiet${sfx}`;
  const connector = `test-snapshot-quiet-${sfx}`;
  const slot = `quiet_${sfx}`;
  const setup = { ...defaultPgSetupOptions(), odooDb: dbName };
  const connect = new ConnectClient(CONNECT_URL);
  let owner: Pool | undefined;
  let signaller: Pool | undefined;
  let held: PoolClient | undefined;
  let admin: Admin;

  before(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });
  after(async () => {
    if (held) {
      await held.query('ROLLBACK').catch(() => undefined);
      held.release();
    }
    await connect.delete(connector).catch(() => undefined);
    const debezium = testPool({
      connectionString: withDatabase(setup.adminUrl, dbName, {
        name: 'debezium',
        password: setup.debeziumPassword,
      }),
      max: 1,
    });
    // the slot goes once the deleted connector's task let it go
    await eventually(
      async () => {
        const r = await debezium.query<{ active: boolean }>(
          'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
          [slot],
        );
        if (r.rows.length === 0) return true;
        if (r.rows[0].active) return undefined;
        await debezium.query('SELECT pg_drop_replication_slot($1)', [slot]);
        return true;
      },
      60_000,
      `slot ${slot} dropped`,
    ).catch(() => undefined);
    await debezium.end();
    await owner?.end();
    await signaller?.end();
    const pgAdmin = testPool({ connectionString: setup.adminUrl, max: 1 });
    await pgAdmin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await pgAdmin.end();
    if (admin) {
      const mine = (t: string) => t.startsWith(`${prefix}.`) || t === `__debezium-heartbeat.${prefix}`;
      const topics = (await admin.listTopics()).filter(mine);
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  /** Every change on `topic` from the beginning (read until `done` holds for what arrived, then 1 s more). */
  async function changes(topic: string, done: (seen: Change[]) => boolean, what: string): Promise<Change[]> {
    const consumer = testKafka().consumer({
      groupId: `test-quiet-${sfx}-${uniqueSuffix()}`,
      maxWaitTimeInMs: 100,
    });
    const seen: Change[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          const v = JSON.parse(message.value.toString()) as {
            op: string;
            after: { id: string | number } | null;
            before: { id: string | number } | null;
          };
          seen.push({ op: v.op, id: (v.after ?? v.before)?.id ?? '' });
        },
      });
      await eventually(async () => (done(seen) ? true : undefined), 60_000, what);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  it(`reads ${ROWS}+ rows in chunks of ${CHUNK} while another transaction stays open and nothing else is written`, async () => {
    // --- a database nobody else writes, with rows that predate the connector (no initial snapshot reads them) ----
    await setupOdooDatabase(setup);
    owner = testPool({ connectionString: withDatabase(ODOO_DATABASE_URL, dbName), max: 1 });
    const codes = Array.from(
      { length: ROWS },
      (_, i) => `${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`,
    );
    await owner.query(
      `INSERT INTO res_country (name, code) SELECT jsonb_build_object('en_US', 'Quiet ' || c), c FROM unnest($1::text[]) c`,
      [codes],
    );
    const ids = new Set(
      (await owner.query<{ id: number }>('SELECT id FROM res_country')).rows.map((r) => r.id),
    );
    expect(ids.size).to.be.at.least(ROWS); // and the schema's own countries

    // --- its connector: the project's config, its own slot, prefix and notification topic, no initial snapshot ---
    await connect.putConfig(connector, {
      ...loadConnectorTemplate(),
      'database.dbname': dbName,
      'slot.name': slot,
      'topic.prefix': prefix,
      'snapshot.mode': 'no_data',
      'incremental.snapshot.chunk.size': String(CHUNK),
      'heartbeat.interval.ms': String(HEARTBEAT_MS),
      'table.include.list': 'public.res_country,public.debezium_signal',
      'notification.sink.topic.name': `${prefix}.debezium-notifications`,
    });
    await connect.waitRunning(connector, 90_000);
    const signalTopic = `${prefix}.public.debezium_signal`;
    // streaming runs once the heartbeat's row change arrived through the new slot
    await eventually(
      async () => {
        const topics = await admin.listTopics();
        return topics.includes(signalTopic) ? true : undefined;
      },
      90_000,
      `the heartbeat row on ${signalTopic}`,
    );

    // --- another transaction open on the server for the whole snapshot (here: in the state database) ------------
    held = await stateDb().connect();
    await held.query('BEGIN');
    const heldXid = (await held.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0].x;

    // --- the snapshot, followed on the notification topic as the `snapshot` command does ------------------------
    const config = loadConfig(process.env, []);
    signaller = testPool({ connectionString: withDatabase(config.odooSignalDatabaseUrl, dbName), max: 1 });
    const signal = buildSnapshotSignal('res_country');
    const t0 = Date.now();
    const report = await runSnapshot(
      { pool: signaller, kafka: testKafka(), admin, connectUrl: CONNECT_URL },
      signal,
      { wait: true, timeoutMs: 60_000, connector },
    );
    const seconds = (Date.now() - t0) / 1000;

    // the other transaction was open from before the signal to the end (asked from another session: a session's
    // own transaction is not in its snapshot)
    const stillOpen = await owner.query<{ open: boolean }>(
      `SELECT $1::xid8 = ANY (ARRAY(SELECT pg_snapshot_xip(pg_current_snapshot()))) AS open`,
      [heldXid],
    );
    expect(stillOpen.rows[0].open, 'the other transaction still open').to.equal(true);

    // what was streamed from the database: the snapshot's reads, its signal, the heartbeat row, nothing else
    const reads = await changes(
      `${prefix}.public.res_country`,
      (seen) => seen.length >= ids.size,
      `${ids.size} events on ${prefix}.public.res_country`,
    );
    const signals = await changes(
      signalTopic,
      (seen) => seen.some((c) => c.id === signal.id),
      `the signal on ${signalTopic}`,
    );
    const heartbeats = signals.filter((c) => c.id === SNAPSHOT_HEARTBEAT_SIGNAL_ID).length;
    console.log(
      `      ${ids.size} rows, chunks of ${CHUNK}: completed in ${seconds.toFixed(1)} s, ${report.rowsEmitted} reported, ` +
        `${reads.length} op r events, ${heartbeats} heartbeat row change(s) streamed meanwhile`,
    );
    expect(
      reads.filter((c) => c.op !== 'r'),
      'changes of res_country other than reads',
    ).to.deep.equal([]);
    expect(new Set(reads.map((c) => Number(c.id)))).to.deep.equal(ids);
    expect(reads).to.have.length(ids.size);
    expect(
      signals.filter((c) => c.id !== signal.id && c.id !== SNAPSHOT_HEARTBEAT_SIGNAL_ID),
      'other signal-table changes',
    ).to.deep.equal([]);
    expect(heartbeats, 'heartbeat row changes').to.be.at.least(1);
    expect(report.completed).to.equal(true);
    expect(report.rowsEmitted).to.equal(ids.size);
    expect(report.progress.tables.map((t) => t.status)).to.deep.equal(['SUCCEEDED']);
  });
});
