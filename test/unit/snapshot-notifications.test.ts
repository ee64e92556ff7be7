import { expect } from 'chai';
import {
  applyNotification,
  DebeziumNotification,
  describeProgress,
  initialProgress,
  parseNotification,
  rowsEmitted,
  SnapshotProgress,
} from '../../src/adapters/kafka-connect/notifications';
import { formatLogEntry, snapshotLogEntries } from '../../src/adapters/kafka-connect/connect-log';
import { SyncError } from '../../src/domain/errors';

const ID = '6f1c1a9e-0d7b-4d39-9a53-2d0f7d1c2a10';

/** A record value as Debezium's sink channel writes it through the JsonConverter (schemas disabled). */
function value(type: string, additional: Record<string, string> = {}, id = ID): string {
  return JSON.stringify({
    id,
    aggregate_type: 'Incremental Snapshot',
    type,
    additional_data: { connector_name: 'odoo', ...additional },
    timestamp: 1796526979007,
  });
}

function fold(values: string[], id = ID): SnapshotProgress {
  return values.map((v) => parseNotification(v)).reduce(applyNotification, initialProgress(id));
}

describe('snapshot: Debezium notifications', () => {
  it('decodes a notification record, plain or in the JsonConverter schema envelope', () => {
    const n = parseNotification(
      Buffer.from(
        value('TABLE_SCAN_COMPLETED', {
          data_collections: 'public.contract_line',
          scanned_collection: 'public.contract_line',
          total_rows_scanned: '42',
          status: 'SUCCEEDED',
        }),
      ),
    );
    expect(n).to.deep.equal({
      id: ID,
      aggregateType: 'Incremental Snapshot',
      type: 'TABLE_SCAN_COMPLETED',
      additionalData: {
        connector_name: 'odoo',
        data_collections: 'public.contract_line',
        scanned_collection: 'public.contract_line',
        total_rows_scanned: '42',
        status: 'SUCCEEDED',
      },
      timestamp: 1796526979007,
    });
    const enveloped = JSON.stringify({ schema: { type: 'struct' }, payload: JSON.parse(value('COMPLETED')) });
    expect(parseNotification(enveloped).type).to.equal('COMPLETED');
    // COMPLETED carries only connector_name; a null additional_data is tolerated
    const bare = parseNotification(
      JSON.stringify({
        id: ID,
        aggregate_type: 'Incremental Snapshot',
        type: 'COMPLETED',
        additional_data: null,
      }),
    );
    expect(bare.additionalData).to.deep.equal({});
    expect(bare.timestamp).to.equal(0);
  });

  it('rejects what is not a notification with MALFORMED_EVENT, naming the missing fields', () => {
    expect(() => parseNotification(null)).to.throw(SyncError, /without a value/);
    expect(() => parseNotification('{not json')).to.throw(SyncError, /not JSON/);
    try {
      parseNotification(JSON.stringify({ id: ID, type: 'STARTED' }));
      expect.fail('accepted a record without aggregate_type');
    } catch (e) {
      expect((e as SyncError).code).to.equal('MALFORMED_EVENT');
      expect((e as Error).message).to.include('aggregate_type');
    }
  });

  it('follows one snapshot: STARTED, IN_PROGRESS per chunk, TABLE_SCAN_COMPLETED with the rows, COMPLETED', () => {
    const steps = [
      value('STARTED', { data_collections: 'public.contract_line' }),
      value('IN_PROGRESS', {
        data_collections: 'public.contract_line',
        current_collection_in_progress: 'public.contract_line',
        maximum_key: '2500',
        last_processed_key: '1024',
      }),
      value('IN_PROGRESS', {
        data_collections: 'public.contract_line',
        current_collection_in_progress: 'public.contract_line',
        maximum_key: '2500',
        last_processed_key: '2048',
      }),
    ];
    const started = fold(steps.slice(0, 1));
    expect(started.state).to.equal('started');
    expect(started.dataCollections).to.deep.equal(['public.contract_line']);
    expect(describeProgress(started)).to.include('started (public.contract_line)');

    const running = fold(steps);
    expect(running.state).to.equal('running');
    expect(running.chunks).to.equal(2);
    expect(running.current).to.deep.equal({
      table: 'public.contract_line',
      lastKey: '2048',
      maximumKey: '2500',
    });
    expect(describeProgress(running)).to.include('chunk 2, last key 2048 of 2500');

    const done = fold([
      ...steps,
      value('TABLE_SCAN_COMPLETED', {
        data_collections: 'public.contract_line',
        scanned_collection: 'public.contract_line',
        total_rows_scanned: '2500',
        status: 'SUCCEEDED',
      }),
      value('COMPLETED'),
    ]);
    expect(done.state).to.equal('completed');
    expect(done.tables).to.deep.equal([{ table: 'public.contract_line', rows: 2500, status: 'SUCCEEDED' }]);
    expect(rowsEmitted(done)).to.equal(2500);
    expect(done.seen).to.equal(5);
    expect(describeProgress(done)).to.include('completed, 2500 row(s) emitted');
  });

  it('an empty table or an empty --where selection completes with 0 rows (EMPTY is not a failure)', () => {
    const p = fold([
      value('STARTED', { data_collections: 'public.res_country' }),
      value('TABLE_SCAN_COMPLETED', {
        scanned_collection: 'public.res_country',
        total_rows_scanned: '0',
        status: 'EMPTY',
      }),
      value('COMPLETED'),
    ]);
    expect(p.state).to.equal('completed');
    expect(rowsEmitted(p)).to.equal(0);
  });

  it('a swallowed SQL error (TABLE_SCAN_COMPLETED status SQL_EXCEPTION) fails the snapshot, even if COMPLETED follows', () => {
    const p = fold([
      value('STARTED', { data_collections: 'public.contract_line' }),
      value('TABLE_SCAN_COMPLETED', {
        scanned_collection: 'public.contract_line',
        total_rows_scanned: '0',
        status: 'SQL_EXCEPTION',
      }),
      value('COMPLETED'),
    ]);
    expect(p.state).to.equal('failed');
    expect(p.reason).to.match(/^public\.contract_line: SQL_EXCEPTION — .*SQL error/);
    for (const status of ['NO_PRIMARY_KEY', 'UNKNOWN_SCHEMA', 'SKIPPED']) {
      const q = fold([
        value('STARTED', { data_collections: 'public.x' }),
        value('TABLE_SCAN_COMPLETED', { scanned_collection: 'public.x', total_rows_scanned: '0', status }),
      ]);
      expect(q.state, status).to.equal('failed');
      expect(q.reason, status).to.include(status);
    }
  });

  it('ABORTED ends the snapshot with a reason; PAUSED / RESUMED are followed', () => {
    const paused = fold([value('STARTED', { data_collections: 'public.x' }), value('PAUSED')]);
    expect(paused.state).to.equal('paused');
    expect(applyNotification(paused, parseNotification(value('RESUMED'))).state).to.equal('running');
    const aborted = fold([
      value('STARTED', { data_collections: 'public.x' }),
      value('ABORTED', { data_collections: 'public.x' }),
      value('COMPLETED'),
    ]);
    expect(aborted.state).to.equal('aborted');
    expect(aborted.reason).to.include('aborted for public.x');
  });

  it("ignores other snapshots' notifications and the initial snapshot's", () => {
    const other: DebeziumNotification = parseNotification(value('COMPLETED', {}, 'another-signal'));
    const initial = parseNotification(
      JSON.stringify({ id: ID, aggregate_type: 'Initial Snapshot', type: 'COMPLETED', additional_data: {} }),
    );
    const p = initialProgress(ID);
    expect(applyNotification(p, other)).to.equal(p);
    expect(applyNotification(p, initial)).to.equal(p);
    expect(p.state).to.equal('pending');
  });
});

describe('snapshot: what Debezium logged in Kafka Connect', () => {
  const log = [
    '[2026-12-06 02:56:18,798] INFO No incremental snapshot in progress, no action needed on start (io.debezium.pipeline.source.snapshot.incremental.AbstractIncrementalSnapshotChangeEventSource)',
    "[2026-12-06 02:56:19,007] WARN SQL error while executing incremental snapshot for table 'public.contract_line', skipping and continuing streaming (io.debezium.pipeline.source.snapshot.incremental.AbstractIncrementalSnapshotChangeEventSource)",
    'org.postgresql.util.PSQLException: ERROR: permission denied for table debezium_signal',
    '\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2904) ~[postgresql-42.7.11.jar:42.7.11]',
    "[2026-12-06 02:56:19,100] WARN SQL error while executing incremental snapshot for table 'public.res_partner', skipping and continuing streaming (io.debezium.pipeline.source.snapshot.incremental.AbstractIncrementalSnapshotChangeEventSource)",
    'org.postgresql.util.PSQLException: ERROR: permission denied for table debezium_signal',
    '[2026-12-06 02:56:20,000] WARN Connection to node -1 could not be established (org.apache.kafka.clients.NetworkClient)',
  ].join('\n');

  it('finds the WARN about the table since the signal, with the exception that caused it', () => {
    const entries = snapshotLogEntries(log, new Date(2026, 11, 6, 2, 56, 19), ['public.contract_line']);
    expect(entries.map(formatLogEntry)).to.deep.equal([
      "WARN SQL error while executing incremental snapshot for table 'public.contract_line', skipping and " +
        'continuing streaming: org.postgresql.util.PSQLException: ERROR: permission denied for table debezium_signal',
    ]);
  });

  it('leaves out older entries and other tables', () => {
    expect(snapshotLogEntries(log, new Date(2026, 11, 6, 2, 57, 0), ['public.contract_line'])).to.deep.equal(
      [],
    );
    expect(snapshotLogEntries(log, new Date(2026, 11, 6, 2, 50, 0), ['public.res_country'])).to.deep.equal(
      [],
    );
  });
});
