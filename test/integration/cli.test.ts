/**
 * The operations CLI driven as an operator would: a spawned `node --require tsx/cjs src/app/cli.ts`
 * against the real stack (Kafka, Connect, PostgreSQL), with topics and consumer groups of its own.
 */
import { expect } from 'chai';
import { spawn, ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Admin, Consumer, KafkaMessage } from 'kafkajs';
import { KafkaDeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { createKafka, ensureTopics } from '../../src/adapters/kafka/kafka';
import { applyReset } from '../../src/adapters/kafka/groups';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import { encodeIntentMessage } from '../../src/domain/intents/message';
import { operatorIntent } from '../../src/flows/projection/operator-intents';
import {
  CONNECT_URL,
  DEBEZIUM_SLOT,
  eventually,
  KAFKA_BROKERS,
  odooDb,
  ROOT,
  STATE_DATABASE_URL,
  stateDb,
  testKafka,
  uniqueSuffix,
} from './support/stack';

const CLI = join(ROOT, 'src', 'app', 'cli.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'error', LOG_FORMAT: 'json' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function startCli(args: string[], env: Record<string, string | undefined> = {}): ChildProcess {
  return spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 120_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = startCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

/** `fn` over `items`, at most `size` at a time, results in the items' order. */
async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

function noStackTrace(s: string): void {
  expect(s).not.to.match(/\n\s+at .+\(.+:\d+:\d+\)/);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function committed(admin: Admin, groupId: string, topic: string): Promise<Record<number, string>> {
  const r = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(r[0].partitions.map((p) => [p.partition, p.offset]));
}

async function readAll(topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = testKafka().consumer({
    groupId: `test-cli-reader-${uniqueSuffix()}`,
    maxWaitTimeInMs: 100,
  });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await eventually(
      async () => (got.length >= count ? true : undefined),
      30_000,
      `${count} message(s) on ${topic}`,
    );
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('ops CLI (spawned, real stack)', function () {
  this.timeout(180_000);
  let admin: Admin;

  before(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
  });

  describe('arguments, help and exit codes', () => {
    it('--help on the program and on each command exits 0', async () => {
      const [top, sub, dlq] = await Promise.all([
        cli(['--help']),
        cli(['resync', '--help']),
        cli(['dlq', '-h']),
      ]);
      expect(top.code).to.equal(0);
      for (const c of [
        'run',
        'status',
        'resync',
        'snapshot',
        'dlq',
        'connectors',
        'force-create',
        'reconcile',
      ])
        expect(top.stdout).to.include(c);
      expect(sub.code).to.equal(0);
      expect(sub.stdout).to.include('--to').and.include('--dry-run').and.include('--follow');
      expect(dlq.code).to.equal(0);
      expect(dlq.stdout).to.include('replay');
    });

    it('bad arguments exit 2 with one clear line and no stack trace', async () => {
      const cases: [string[], RegExp][] = [
        [[], /Usage/],
        [['frobnicate'], /unknown command "frobnicate"/],
        [['status', '--jsn'], /unknown option --jsn \(did you mean --json\?\)/],
        [['resync'], /missing <group>/],
        [['resync', 'g1', '--to', 'yesterday'], /--to must be earliest, latest or an ISO-8601 time/],
        [['resync', 'g1'], /--to is required/],
        [['dlq', 'frob'], /<action> must be one of list, show, replay/],
        [['dlq', 'replay'], /needs --id/],
        [['dlq', 'show', 'abc'], /not a dead letter id/],
        [['run', '--only', 'router,cooker'], /--only must be one of/],
        [['reconcile', '--partner', 'X', '--all'], /exactly one of/],
        [['snapshot', 'no_such_table'], /not a captured Odoo table/],
        [['snapshot'], /name a table, or --all/],
        [['snapshot', 'res_partner', '--all'], /name tables or give --all, not both/],
        [['snapshot', 'res_partner', 'contract_line', '--where', 'id = 1'], /--where applies to one table/],
      ];
      // a few processes at a time: each spends most of its life loading the program
      const results = await inBatches(cases, 4, ([args]) =>
        cli(args, { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'x' }),
      );
      cases.forEach(([args, re], i) => {
        const r = results[i];
        expect(r.code, args.join(' ')).to.equal(2);
        expect(r.stderr, args.join(' ')).to.match(re);
        noStackTrace(r.stderr);
      });
    });

    it('missing or invalid configuration: every problem reported at once, exit 3', async () => {
      const r = await cli(['run', '--only', 'projector'], {
        OPENCELL_PASSWORD: undefined,
        HTTP_PORT: 'eighty',
        STATE_DATABASE_URL: 'mysql://nope',
        SYNC_CONFIG_FILE: undefined,
      });
      expect(r.code).to.equal(3);
      expect(r.stderr).to.include('3 problems');
      expect(r.stderr).to.include('OPENCELL_PASSWORD is required');
      expect(r.stderr).to.include('HTTP_PORT="eighty"');
      expect(r.stderr).to.include('STATE_DATABASE_URL');
      noStackTrace(r.stderr);
      // a command that never talks to OpenCell does not demand its password
      const s = await cli(['resync', 'x', '--to', 'earliest', '--dry-run'], {
        OPENCELL_PASSWORD: undefined,
        KAFKA_BROKERS: ' ',
      });
      expect(s.code).to.equal(3);
      expect(s.stderr).to.include('KAFKA_BROKERS').and.not.include('OPENCELL_PASSWORD');
    });
  });

  describe('status and resync', () => {
    const suffix = uniqueSuffix();
    const topic = `test.cli-lag-${suffix}`;
    /** The group's committed offsets on the test topic's two partitions, as an idle group would have left them. */
    const commitOffsets = (group: string, p0: string, p1: string) =>
      applyReset(testKafka(), admin, group, [
        { topic, partition: 0, target: p0 },
        { topic, partition: 1, target: p1 },
      ]);

    before(async () => {
      await ensureTopics(admin, [{ topic, numPartitions: 2, replicationFactor: 1 }]);
      const producer = testKafka().producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: [0, 0, 0, 1, 1].map((partition, i) => ({ partition, key: `k${i}`, value: `v${i}` })),
      });
      await producer.disconnect();
    });

    it('status --json shows the lag the test created, per partition', async () => {
      const group = `test-cli-status-${suffix}`;
      await commitOffsets(group, '0', '0');
      const r = await cli(['status', '--json', '--group', group]);
      expect([0, 1]).to.include(r.code);
      const report = JSON.parse(r.stdout);
      const g = report.groups.find((x: { groupId: string }) => x.groupId === group);
      expect(g.totalLag).to.equal(5);
      expect(g.members).to.deep.equal([]);
      expect(
        g.partitions.map((p: { partition: number; lag: number; committed: string }) => [
          p.partition,
          p.committed,
          p.lag,
        ]),
      ).to.deep.equal([
        [0, '0', 3],
        [1, '0', 2],
      ]);
      for (const k of ['dlq', 'outbox', 'connectors', 'lastErrors', 'ledger'])
        expect(report).to.have.property(k);
      expect(report.outbox.backlog).to.be.a('number');
      expect(report.connectors.map((c: { name: string }) => c.name)).to.include('odoo-billing');
      // the Odoo database's replication slot (test/integration/replication-slot.test.ts makes it warn)
      expect(report.replicationSlots.slots.map((x: { slot: string }) => x.slot)).to.include(DEBEZIUM_SLOT);
      expect(report.warnings).to.be.an('array');
      // the table form too
      const t = await cli(['status', '--group', group]);
      expect(t.stdout).to.include(group).and.include('total lag=5').and.include('Replication slots');
    });

    it("status checks the function of the connector's heartbeat.action.query and warns (exit 1) when it is missing or the connector's role may not execute it", async () => {
      const fn = 'public.odoo_opencell_sync_heartbeat()';
      const ok = JSON.parse((await cli(['status', '--json'])).stdout);
      expect(ok.heartbeatFunction).to.deep.equal({
        fn,
        present: true,
        securityDefiner: true,
        role: 'debezium',
        roleExists: true,
        canExecute: true,
        warnings: [],
      });
      expect(ok.warnings.filter((w: string) => w.includes('heartbeat'))).to.deep.equal([]);

      // a role that exists without EXECUTE on it (the state database's owner; the setup grants it to debezium only)
      const role = new URL(STATE_DATABASE_URL).username;
      const noGrant = await cli(['status', '--json'], { DEBEZIUM_DB_USER: role });
      expect(noGrant.code).to.equal(1);
      const report = JSON.parse(noGrant.stdout);
      expect(report.healthy).to.equal(false);
      expect(report.heartbeatFunction).to.deep.include({ present: true, role, canExecute: false });
      expect(report.warnings).to.include(
        `the connector's role ${role} may not execute heartbeat function ${fn}: the connector's heartbeat.action.query fails and incremental snapshots stall on a quiet Odoo database (README "Database roles")`,
      );

      // the function missing: a database without it (the state database) read as Odoo's
      const missing = await cli(['status'], { ODOO_DATABASE_URL: STATE_DATABASE_URL });
      expect(missing.code).to.equal(1);
      expect(missing.stdout)
        .to.include(
          `WARNING heartbeat function ${fn} is missing: the connector's heartbeat.action.query fails`,
        )
        .and.include(`${fn}: MISSING`);
    });

    it('resync --dry-run shows the plan and changes nothing', async () => {
      const group = `test-cli-dry-${suffix}`;
      await commitOffsets(group, '3', '2');
      const r = await cli(['resync', group, '--to', 'earliest', '--topic', topic, '--dry-run', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.dryRun).to.equal(true);
      expect(plan.totals).to.deep.equal({ toConsume: 5, replayed: 5, skipped: 0 });
      expect(
        plan.partitions.map((p: { current: string; target: string }) => [p.current, p.target]),
      ).to.deep.equal([
        ['3', '0'],
        ['2', '0'],
      ]);
      expect(await committed(admin, group, topic)).to.deep.equal({ 0: '3', 1: '2' });
      const text = await cli(['resync', group, '--to', 'earliest', '--topic', topic, '--dry-run']);
      expect(text.stdout).to.include('[dry run]').and.include('5 processed again');
    });

    it('resync refuses while the group has live members, naming them (exit 1)', async () => {
      const group = `test-cli-live-${suffix}`;
      const clientId = `cli-test-member-${suffix}`;
      const consumer: Consumer = createKafka({ brokers: KAFKA_BROKERS }, clientId).consumer({
        groupId: group,
        maxWaitTimeInMs: 100,
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
        await eventually(
          async () => ((await admin.describeGroups([group])).groups[0]?.members.length ? true : undefined),
          30_000,
          'member joined',
        );
        const before = await committed(admin, group, topic).catch(() => ({}));
        const r = await cli(['resync', group, '--to', 'earliest', '--topic', topic, '--yes']);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include('refusing').and.include(clientId);
        noStackTrace(r.stderr);
        expect(await committed(admin, group, topic).catch(() => ({}))).to.deep.equal(before);
      } finally {
        await consumer.disconnect();
      }
    });

    it('resync --to earliest resets an idle group; --to <future time> moves it to the end', async () => {
      const group = `test-cli-reset-${suffix}`;
      await commitOffsets(group, '3', '1');
      const r = await cli(['resync', group, '--to', 'earliest', '--topic', topic, '--yes']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('4 processed again');
      expect(await committed(admin, group, topic)).to.deep.equal({ 0: '0', 1: '0' });
      const future = new Date(Date.now() + 3600_000).toISOString();
      const r2 = await cli(['resync', group, '--to', future, '--topic', topic, '--json', '--yes']);
      expect(r2.code, r2.stderr).to.equal(0);
      expect(await committed(admin, group, topic)).to.deep.equal({ 0: '3', 1: '2' });
    });

    it('resync without --yes shows the plan and changes nothing (exit 2); destructive commands need --yes', async () => {
      const group = `test-cli-noyes-${suffix}`;
      await commitOffsets(group, '3', '1');
      const r = await cli(['resync', group, '--to', 'earliest', '--topic', topic]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stdout).to.include('4 processed again');
      expect(r.stderr).to.include('add --yes');
      expect(await committed(admin, group, topic)).to.deep.equal({ 0: '3', 1: '1' });
      const fix = await cli(['reconcile', '--all', '--fix'], { OPENCELL_PASSWORD: 'unused-here' });
      expect(fix.code, fix.stderr).to.equal(2);
      expect(fix.stderr).to.include('add --yes');
    });

    it('resync --follow shows progress until the group has caught up', async () => {
      const group = `test-cli-follow-${suffix}`;
      await commitOffsets(group, '3', '2');
      const child = cli([
        'resync',
        group,
        '--to',
        'earliest',
        '--topic',
        topic,
        '--follow',
        '--timeout',
        '90',
        '--yes',
      ]);
      // a consumer joins once the reset is done and consumes everything
      await eventually(
        async () => {
          const c = await committed(admin, group, topic);
          return c[0] === '0' ? true : undefined;
        },
        60_000,
        'reset applied',
      );
      const consumer = testKafka().consumer({ groupId: group, maxWaitTimeInMs: 100 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ autoCommitInterval: 100, eachMessage: async () => undefined });
        const r = await child;
        expect(r.code, r.stderr).to.equal(0);
        // a bar with done/total, rate and ETA, ending at 100 %
        expect(r.stderr, r.stderr).to.match(/\[[#-]{30}\]\s+\d+% \d\/[1-5]\s+[\d.]+ msg\/s\s+ETA \d\d:\d\d/);
        expect(r.stderr, r.stderr).to.match(/\[#{30}\] 100% ([1-5])\/\1 /);
        expect(r.stderr).to.include('caught up');
      } finally {
        await consumer.disconnect();
      }
    });
  });

  describe('dlq', () => {
    const suffix = uniqueSuffix();
    const dlqTopic = `test.dlq-${suffix}`;
    const source = `test.cli-source-${suffix}`;
    const env = { DLQ_TOPIC: dlqTopic };

    before(async () => {
      await ensureTopics(admin, [
        { topic: dlqTopic, numPartitions: 1, replicationFactor: 1 },
        { topic: source, numPartitions: 2, replicationFactor: 1 },
      ]);
      const producer = testKafka().producer();
      await producer.connect();
      const dlq = new KafkaDeadLetterPublisher(producer, dlqTopic);
      await dlq.publish({
        stage: 'projector',
        topic: source,
        partition: 1,
        message: {
          key: Buffer.from('partner:7'),
          value: Buffer.from('{"bad":true}'),
          headers: { intent_id: 'abc' },
          offset: '41',
        },
        error: Object.assign(new Error('product X unknown'), { code: 'UNKNOWN_PRODUCT' }),
        attempts: 1,
        retriable: false,
      });
      await dlq.publish({
        stage: 'router',
        topic: source,
        partition: 0,
        message: { key: Buffer.from('k2'), value: Buffer.from('v2'), headers: {}, offset: '7' },
        error: new Error('boom'),
        reasonPrefix: 'retries exhausted after 12 attempts: ',
        attempts: 12,
        retriable: true,
      });
      await producer.disconnect();
    });

    after(async () => {
      await stateDb().query('DELETE FROM dlq_replay WHERE dlq_topic = $1', [dlqTopic]);
    });

    it('list and show the dead letters with their reasons', async () => {
      const r = await cli(['dlq', 'list', '--json'], env);
      expect(r.code, r.stderr).to.equal(0);
      const { deadLetters } = JSON.parse(r.stdout);
      expect(deadLetters).to.have.length(2);
      expect(deadLetters[0]).to.include({
        id: '0:0',
        stage: 'projector',
        attempts: 1,
        retriable: false,
        key: 'partner:7',
        replayed: null,
      });
      expect(deadLetters[0].message).to.include('product X unknown');
      expect(deadLetters[0].source).to.deep.equal({ topic: source, partition: 1, offset: '41' });
      expect(deadLetters[1].message).to.include('retries exhausted after 12 attempts');
      const t = await cli(['dlq', 'list'], env);
      expect(t.stdout).to.include('0:1').and.include('2 dead letter(s), 0 replayed');
      const s = await cli(['dlq', 'show', '0:0'], env);
      expect(s.code).to.equal(0);
      expect(s.stdout)
        .to.include('partner:7')
        .and.include('"bad": true')
        .and.include(`${source} partition 1 offset 41`);
      const missing = await cli(['dlq', 'show', '0:99'], env);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include('no dead letter 0:99');
    });

    it('replay re-publishes the original message to its source topic and partition, once', async () => {
      const dry = await cli(['dlq', 'replay', '--all', '--dry-run'], env);
      expect(dry.code).to.equal(0);
      expect(dry.stdout).to.include('2 dead letter(s) would be replayed');
      const r = await cli(['dlq', 'replay', '--id', '0:0', '--yes'], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include(`replayed 0:0 → ${source}[1]`);
      const [m] = await readAll(source, 1);
      expect(m.key?.toString()).to.equal('partner:7');
      expect(m.value?.toString()).to.equal('{"bad":true}');
      const headers = Object.keys(m.headers ?? {});
      expect(headers).to.include('intent_id').and.include('replayed_from');
      expect(headers.filter((h) => h.startsWith('dlq.'))).to.deep.equal([]);
      expect(String(m.headers?.replayed_from)).to.equal(`${dlqTopic}:0:0`);
      const offsets = await admin.fetchTopicOffsets(source);
      expect(offsets.find((p) => p.partition === 1)?.high).to.equal('1');

      const listed = JSON.parse((await cli(['dlq', 'list', '--json'], env)).stdout).deadLetters;
      expect(listed[0].replayed).to.have.property('at');
      expect(listed[1].replayed).to.equal(null);
      const again = await cli(['dlq', 'replay', '--id', '0:0', '--yes'], env);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include('already replayed');
      const all = await cli(['dlq', 'replay', '--all', '--yes'], env);
      expect(all.code, all.stderr).to.equal(0);
      expect(all.stdout).to.include('1 dead letter(s) replayed').and.include('0:1');
    });
  });

  describe('snapshot', () => {
    const TOPIC = 'odoo.public.res_country';

    /** The end offset of every partition of `topic` now: where the events of a command started now begin. */
    async function topicEnds(topic: string): Promise<{ partition: number; offset: string }[]> {
      return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
    }

    /**
     * The snapshot (`op: "r"`) events on `topic` after `from`, read with kafkajs until `expected` arrived, then
     * for two more seconds (so that one too many would be seen too).
     */
    async function snapshotReads(
      topic: string,
      from: { partition: number; offset: string }[],
      expected: number,
    ): Promise<{ id: number; name: unknown }[]> {
      const groupId = `test-cli-snapshot-reads-${uniqueSuffix()}`;
      await applyReset(
        testKafka(),
        admin,
        groupId,
        from.map((p) => ({ topic, partition: p.partition, target: p.offset })),
      );
      const consumer = testKafka().consumer({ groupId, maxWaitTimeInMs: 100 });
      const reads: { id: number; name: unknown }[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            if (!message.value) return;
            const v = JSON.parse(message.value.toString()) as {
              op: string;
              after: { id: number; name: unknown };
            };
            if (v.op === 'r') reads.push({ id: v.after.id, name: v.after.name });
          },
        });
        await eventually(
          async () => (reads.length >= expected ? true : undefined),
          60_000,
          `${expected} op r event(s) on ${topic} (got ${reads.length})`,
        ).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        await consumer.disconnect();
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
      return reads;
    }

    /** `count` fresh res_country rows of this test (code NULL), returning their ids. */
    async function insertCountries(count: number, suffix: string): Promise<number[]> {
      const r = await odooDb().query<{ id: number }>(
        `INSERT INTO res_country (name) SELECT jsonb_build_object('en_US', 'snapshot-test ' || $1::text || ' ' || g)
           FROM generate_series(1, $2::int) g RETURNING id`,
        [suffix, count],
      );
      return r.rows.map((row) => row.id).sort((a, b) => a - b);
    }

    it("snapshot emits the table's rows on the project's own stack (connector role read-only)", async () => {
      // The stack as `scripts/stack up` sets it up: the connector role may only read, even the signal table ...
      const privileges = await odooDb().query<{ p: string; granted: boolean }>(
        `SELECT p, has_table_privilege('debezium', 'public.debezium_signal', p) AS granted
           FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p`,
      );
      expect(Object.fromEntries(privileges.rows.map((r) => [r.p, r.granted]))).to.deep.equal({
        SELECT: true,
        INSERT: false,
        UPDATE: false,
        DELETE: false,
      });
      // ... and the connector takes read-only incremental snapshots (re-apply with `scripts/stack up` if not)
      const live = (await (await fetch(`${CONNECT_URL}/connectors/odoo-billing/config`)).json()) as Record<
        string,
        string
      >;
      expect(
        live['read.only'],
        'live read.only of odoo-billing (re-apply connectors/odoo-billing.json: scripts/stack up)',
      ).to.equal('true');

      const suffix = uniqueSuffix();
      const ids = await insertCountries(1100, suffix); // more than one chunk (incremental.snapshot.chunk.size 1024)
      try {
        const where = `id BETWEEN ${ids[0]} AND ${ids[ids.length - 1]} AND name->>'en_US' LIKE 'snapshot-test ${suffix} %'`;
        const matching = Number(
          (await odooDb().query(`SELECT count(*) AS n FROM res_country WHERE ${where}`)).rows[0].n,
        );
        expect(matching).to.equal(1100);
        const from = await topicEnds(TOPIC);

        const r = await cli(
          ['snapshot', 'res_country', '--where', where, '--wait', '--json', '--yes'],
          {},
          170_000,
        );
        expect(r.code, r.stderr).to.equal(0);

        // first: how many snapshot events arrived on the table's topic since the command started
        const reads = await snapshotReads(TOPIC, from, matching);
        expect(reads.length, 'op r events on odoo.public.res_country').to.equal(matching);
        expect([...new Set(reads.map((e) => e.id))].sort((a, b) => a - b)).to.deep.equal(ids);
        // then: what the command reported
        const out = JSON.parse(r.stdout);
        expect(out).to.include({
          type: 'execute-snapshot',
          inserted: true,
          state: 'completed',
          completed: true,
        });
        expect(out.rowsEmitted).to.equal(reads.length);
        expect(out.tables).to.deep.equal([
          { table: 'public.res_country', rows: matching, status: 'SUCCEEDED' },
        ]);
        expect(out.notificationTopic).to.equal('odoo.debezium-notifications');
        expect(out.warnings).to.deep.equal([]);
        // progress went to stderr: started, the chunks, the completion
        expect(r.stderr).to.include('started (public.res_country)');
        expect(r.stderr).to.match(/chunk 1, last key \d+ of \d+/);
        expect(r.stderr).to.include(`completed, ${matching} row(s) emitted`);
      } finally {
        await odooDb().query('DELETE FROM res_country WHERE id = ANY($1::int[])', [ids]);
      }
    });

    it('without --wait, returns once Debezium started the snapshot and read its first chunk', async () => {
      const suffix = uniqueSuffix();
      const ids = await insertCountries(3, suffix);
      try {
        const from = await topicEnds(TOPIC);
        const r = await cli(['snapshot', 'res_country', '--where', `id IN (${ids.join(',')})`, '--yes']);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^snapshot [0-9a-f-]{36} started: public\.res_country/);
        const reads = await snapshotReads(TOPIC, from, ids.length);
        expect(reads.map((e) => e.id).sort((a, b) => a - b)).to.deep.equal(ids);
      } finally {
        await odooDb().query('DELETE FROM res_country WHERE id = ANY($1::int[])', [ids]);
      }
    });

    it("fails with the connector's reason when Debezium cannot read the table (exit 1, Connect's log quoted)", async () => {
      const from = await topicEnds(TOPIC);
      const r = await cli([
        'snapshot',
        'res_country',
        '--where',
        'no_such_column = 1',
        '--wait',
        '--timeout',
        '60',
        '--yes',
      ]);
      expect(r.code, r.stdout).to.equal(1);
      expect(r.stderr).to.include('public.res_country: SQL_EXCEPTION');
      expect(r.stderr).to.include('Kafka Connect logged:').and.include('no_such_column');
      noStackTrace(r.stderr.replace(/Kafka Connect logged:[\s\S]*/, ''));
      expect(await snapshotReads(TOPIC, from, 0)).to.deep.equal([]);
    });

    it('prints the signal with --dry-run and refuses tables that are not captured Odoo tables', async () => {
      const dry = await cli([
        'snapshot',
        'contract_line',
        '--where',
        'contract_id = 42',
        '--dry-run',
        '--json',
      ]);
      expect(dry.code).to.equal(0);
      const signal = JSON.parse(dry.stdout);
      expect(signal).to.include({ type: 'execute-snapshot', inserted: false });
      expect(JSON.parse(signal.data)).to.deep.equal({
        'data-collections': ['public.contract_line'],
        type: 'incremental',
        'additional-conditions': [{ 'data-collection': 'public.contract_line', filter: 'contract_id = 42' }],
      });
      const rows = await odooDb().query('SELECT 1 FROM debezium_signal WHERE id = $1', [signal.id]);
      expect(rows.rowCount).to.equal(0);
      const text = await cli(['snapshot', 'contract_line', '--dry-run']);
      expect(text.stdout).to.include('[dry run]').and.include('public.contract_line');
      expect((await cli(['snapshot', 'debezium_signal', '--yes'])).code).to.equal(2);
      expect((await cli(['snapshot', 'res_country', '--timeout', 'soon', '--yes'])).code).to.equal(2);
    });
  });

  describe('run: HTTP endpoints, metrics after traffic, graceful SIGTERM', () => {
    it('serves /healthz, /readyz and /metrics with the counters, and stops cleanly on SIGTERM', async () => {
      const sandbox = await startOpenCellSandbox({ port: 0 });
      const suffix = uniqueSuffix();
      const port = await freePort();
      const intents = `test.cli-intents-${suffix}`;
      const events = `test.cli-events-${suffix}`;
      const child = startCli(['run', '--only', 'projector', '--group', `projector=test-cli-proj-${suffix}`], {
        HTTP_PORT: String(port),
        INTENTS_TOPIC: intents,
        INTENTS_PARTITIONS: '2',
        DLQ_TOPIC: `test.cli-rundlq-${suffix}`,
        SYNC_EVENTS_TOPIC: events,
        OPENCELL_BASEURL: sandbox.url,
        OPENCELL_USER: sandbox.credentials.user,
        OPENCELL_PASSWORD: sandbox.credentials.password,
        RETRY_INITIAL_MS: '50',
        RETRY_MAX_MS: '200',
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const base = `http://127.0.0.1:${port}`;
      const msg = operatorIntent(
        { kind: 'create_subscription', contractId: 2_000_000_000 },
        { partnerId: 2_000_000_000, contractId: 2_000_000_000 },
        { origin: 'cli-test' },
      );
      try {
        const health = await eventually(
          async () => {
            const res = await fetch(`${base}/healthz`).catch(() => undefined);
            return res?.status === 200 ? ((await res.json()) as { status: string }) : undefined;
          },
          90_000,
          `healthz (stderr: ${stderr})`,
        );
        expect(health.status).to.equal('ok');

        const producer = testKafka().producer();
        await producer.connect();
        await producer.send({
          topic: intents,
          messages: [
            { key: 'partner:1', value: 'this is not an intent' },
            { key: msg.aggregateKey, value: encodeIntentMessage(msg) },
          ],
        });
        await producer.disconnect();

        const metrics = await eventually(
          async () => {
            const text = await (await fetch(`${base}/metrics`)).text();
            return /sync_dead_letters_total\{[^}]*stage="projector"[^}]*code="MALFORMED_EVENT"[^}]*\} 1/.test(
              text,
            ) && /sync_messages_processed_total\{[^}]*stage="projector"[^}]*\} 1/.test(text)
              ? text
              : undefined;
          },
          60_000,
          'projector counters on /metrics',
        );
        expect(metrics).to.include('# TYPE sync_opencell_call_duration_seconds histogram');
        expect(metrics).to.match(/sync_batch_duration_seconds_count\{[^}]*stage="projector"[^}]*\} [1-9]/);
        expect(metrics).to.include('sync_consumer_lag');
        expect(metrics)
          .to.include('sync_process_cpu_seconds_total')
          .and.include('sync_nodejs_heap_size_used_bytes');
        expect(metrics, 'no doubled prefix').not.to.include('sync_process_process_');

        const ready = await fetch(`${base}/readyz`);
        const body = (await ready.json()) as { status: string; checks: { name: string; ok: boolean }[] };
        expect([200, 503]).to.include(ready.status);
        const byName = Object.fromEntries(body.checks.map((c) => [c.name, c.ok]));
        expect(byName).to.include({
          kafka: true,
          'postgres-state': true,
          'postgres-odoo': true,
          opencell: true,
          registry: true,
        });
        expect(ready.status).to.equal(Object.values(byName).every(Boolean) ? 200 : 503);
        expect((await fetch(`${base}/nope`)).status).to.equal(404);

        child.kill('SIGTERM');
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 45_000))]);
        expect(code, stderr).to.equal(0);
        // the processed intent was committed before the process left
        const c = await admin.fetchOffsets({ groupId: `test-cli-proj-${suffix}`, topics: [intents] });
        const total = c[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
        expect(total).to.equal(2);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await sandbox.close();
        await stateDb().query('DELETE FROM outbox WHERE topic = $1', [events]);
        await stateDb().query('DELETE FROM ledger_intent WHERE intent_id = $1', [msg.intentId]);
      }
    });
  });
});
