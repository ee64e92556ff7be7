import { expect } from 'chai';
import { lagOf, parseResetTarget, planReset, PartitionLag } from '../../src/adapters/kafka/groups';
import { buildSnapshotSignal, snapshotTables } from '../../src/app/snapshot';
import { originalHeaders, parseDlqId, toDeadLetter } from '../../src/app/dlq-admin';
import { UsageError } from '../../src/app/args';

describe('ops offsets, snapshot signal and dead-letter parsing', () => {
  it('lag: high - committed, high - low without a commit, never negative', () => {
    expect(lagOf('3', '0', '10')).to.equal(7);
    expect(lagOf(null, '4', '10')).to.equal(6);
    expect(lagOf('2', '4', '10')).to.equal(6); // committed below the log start (retention)
    expect(lagOf('12', '0', '10')).to.equal(0);
  });

  it('parses --to', () => {
    expect(parseResetTarget('earliest')).to.deep.equal({ kind: 'earliest' });
    expect(parseResetTarget('latest')).to.deep.equal({ kind: 'latest' });
    expect(parseResetTarget('2024-05-01T10:00:00Z')).to.deep.equal({
      kind: 'time',
      timestamp: Date.UTC(2024, 4, 1, 10),
      iso: '2024-05-01T10:00:00.000Z',
    });
    expect(parseResetTarget('2024-05-01T12:00:00+02:00')?.kind).to.equal('time');
    expect(parseResetTarget('2024-05-01')?.kind).to.equal('time');
    for (const bad of ['yesterday', '1714557600000', '2024-13-45T00:00:00Z', ''])
      expect(parseResetTarget(bad), bad).to.equal(null);
  });

  it('plans the reset per partition: replayed, skipped, to consume', () => {
    const lags: PartitionLag[] = [
      { topic: 't', partition: 0, committed: '8', low: '0', high: '10', lag: 2 },
      { topic: 't', partition: 1, committed: null, low: '5', high: '10', lag: 5 },
      { topic: 't', partition: 2, committed: '2', low: '0', high: '10', lag: 8 },
    ];
    const rows = planReset(
      lags,
      new Map([
        ['t/0', '3'],
        ['t/1', '5'],
        ['t/2', '6'],
      ]),
    );
    expect(
      rows.map((r) => [r.partition, r.current, r.target, r.toConsume, r.replayed, r.skipped]),
    ).to.deep.equal([
      [0, '8', '3', 7, 5, 0],
      [1, null, '5', 5, 0, 0],
      [2, '2', '6', 4, 0, 4],
    ]);
  });

  it('builds the incremental snapshot signal from the capture registry', () => {
    const s = buildSnapshotSignal('contract_line', 'contract_id = 42', 'sig-1');
    expect(s).to.deep.equal({
      id: 'sig-1',
      type: 'execute-snapshot',
      data: JSON.stringify({
        'data-collections': ['public.contract_line'],
        type: 'incremental',
        'additional-conditions': [{ 'data-collection': 'public.contract_line', filter: 'contract_id = 42' }],
      }),
    });
    expect(JSON.parse(buildSnapshotSignal('public.res_partner').data)).to.deep.equal({
      'data-collections': ['public.res_partner'],
      type: 'incremental',
    });
    expect(() => buildSnapshotSignal('res_users')).to.throw(UsageError, /not a captured Odoo table/);
    expect(() => buildSnapshotSignal('debezium_signal')).to.throw(UsageError);
    expect(() => buildSnapshotSignal('res_partner', 'id = 1; DROP TABLE x')).to.throw(
      UsageError,
      /single SQL condition/,
    );
    expect(() => buildSnapshotSignal('res_partner', 'x'.repeat(3000))).to.throw(UsageError, /too long/);
  });

  it('several tables, or every captured Odoo table (snapshot --all), are one signal; --where only with one table', () => {
    expect(
      JSON.parse(buildSnapshotSignal(['contract_contract', 'public.contract_line'], undefined, 's').data),
    ).to.deep.equal({
      'data-collections': ['public.contract_contract', 'public.contract_line'],
      type: 'incremental',
    });
    const all = JSON.parse(buildSnapshotSignal(snapshotTables()).data) as { 'data-collections': string[] };
    expect(all['data-collections']).to.have.length(snapshotTables().length).and.include('public.res_partner');
    expect(all['data-collections']).not.to.include('public.debezium_signal');
    expect(() => buildSnapshotSignal(['contract_line', 'res_partner'], 'id = 1')).to.throw(
      UsageError,
      /one table/,
    );
    expect(() => buildSnapshotSignal(['contract_line', 'res_users'])).to.throw(UsageError, /res_users/);
    expect(() => buildSnapshotSignal([])).to.throw(UsageError, /--all/);
  });

  it('reads dead-letter headers and strips them for a replay', () => {
    const d = toDeadLetter(2, {
      offset: '17',
      timestamp: String(Date.UTC(2024, 0, 1)),
      key: Buffer.from('partner:1'),
      value: Buffer.from('{}'),
      headers: {
        intent_id: Buffer.from('abc'),
        'dlq.stage': Buffer.from('projector'),
        'dlq.error.code': Buffer.from('UNKNOWN_PRODUCT'),
        'dlq.error.message': Buffer.from('no such product'),
        'dlq.error.retriable': Buffer.from('false'),
        'dlq.attempts': Buffer.from('3'),
        'dlq.source.topic': Buffer.from('sync.intents'),
        'dlq.source.partition': Buffer.from('4'),
        'dlq.source.offset': Buffer.from('99'),
      },
    });
    expect(d).to.deep.include({
      id: '2:17',
      stage: 'projector',
      code: 'UNKNOWN_PRODUCT',
      retriable: false,
      attempts: 3,
    });
    expect(d.source).to.deep.equal({ topic: 'sync.intents', partition: 4, offset: '99' });
    expect(Object.keys(originalHeaders(d.headers))).to.deep.equal(['intent_id']);
    expect(parseDlqId('0:42')).to.deep.equal({ partition: 0, offset: '42' });
    expect(parseDlqId('0-42')).to.equal(null);
  });
});
