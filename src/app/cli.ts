/**
 * odoo-opencell-sync: the operators' CLI. One command per task (run, status, resync, snapshot, dlq, connectors,
 * force-create, force-iban, compensate, reconcile), `--help` on each, and exit codes scripts can trust:
 *   0 ok · 1 runtime failure · 2 usage error (bad arguments) · 3 configuration error · 130 second signal.
 * User errors are one clear line on stderr (no stack trace; LOG_LEVEL=debug adds it for bugs). Tables go to
 * stdout, `--json` prints one JSON document on stdout; logs and progress go to stderr.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool } from '../adapters/postgres/pool';
import { unsupportedNode } from '../core/node-version';
import { ConfigKey, loadConfig, Config, type KafkaClientSettings } from '../core/config';
import { redactString } from '../core/log';
import { ConfigError } from '../domain/errors';
import { OdooViews } from '../adapters/postgres/odoo-views';
import { optionalOdooColumns, partnerBlockedSql } from '../adapters/postgres/odoo-schema';
import { applyMigrations, pendingMigrations, stateMigrations } from '../adapters/postgres/state-migrations';
import { OpenCellState } from '../adapters/opencell/opencell-state';
import { OpenCellClient } from '../adapters/opencell/client';
import { createProducer } from '../flows/projection/stages';
import { createKafka, explainKafkaSecurityError, resolveReplication } from '../adapters/kafka/kafka';
import {
  CliFailure,
  CommandSpec,
  EXIT,
  flag,
  list,
  parseArgs,
  ParsedArgs,
  renderHelp,
  requireYes,
  str,
  table,
  UsageError,
  YES_OPTION,
} from './args';
import { ConnectClient, connectorFiles } from '../adapters/kafka-connect/client';
import { renderConnectorConfig } from '../adapters/kafka-connect/connector-config';
import {
  deadLetterListTable,
  describeValue,
  listDeadLetters,
  parseDlqId,
  replayDeadLetter,
  DeadLetterRecord,
} from './dlq-admin';
import {
  applyReset,
  describeMembers,
  groupTopics,
  partitionLags,
  parseResetTarget,
  planReset,
  targetOffsets,
} from '../adapters/kafka/groups';
import { contractQueue, operatorIntent, produceIntents } from '../flows/projection/operator-intents';
import { awaitIntentOutcome, ledgerNow, readEffect } from '../adapters/postgres/ledger';
import type { IntentMessage } from '../domain/intents/message';
import { forceIbanRefusal } from '../domain/intents/force-iban';
import { compensationEffectKey, compensationIntentId } from '../domain/intents/apply-compensation';
import { maskIban } from '../domain/projection/iban';
import { compensationAmount, compensationRequest, projectionConfig } from '../domain/projection/payloads';
import { oneShotIdentity } from '../domain/opencell/one-shot';
import type { ContractView } from '../domain/projection/views';
import { formatProgress, ProgressMeter } from './progress';
import { driftOfPartner, partnersInScope, ReconcileScope } from '../flows/reconcile';
import type { Drift } from '../domain/reconcile';
import { ALL_ROLES, ROLE_SECRETS, runRoles, runUntilSignal, type RoleName } from './run';
import { buildSnapshotSignal, runSnapshot, snapshotTables } from './snapshot';
import { gatherStatus, knownGroups, renderStatus, statusHealthy, statusJson } from './status';

export const PROGRAM = 'odoo-opencell-sync';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
  isTTY: boolean;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  isTTY: process.stderr.isTTY === true,
};

interface Command {
  spec: CommandSpec;
  /** settings without default this command needs (the rest may stay unset) */
  requires: (args: ParsedArgs) => ConfigKey[];
  run: (args: ParsedArgs, ctx: CommandContext) => Promise<number>;
}

interface CommandContext {
  io: CliIo;
  config: Config;
  kafka(): Kafka;
  admin(): Promise<Admin>;
  statePool(): Pool;
  odooPool(): Pool;
  /** ODOO_SIGNAL_DATABASE_URL: the role that may insert `snapshot`'s signal row */
  odooSignalPool(): Pool;
}

const JSON_OPT = { name: 'json', type: 'boolean', description: 'print JSON on stdout' } as const;

// ---------------------------------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------------------------------

const runCommand: Command = {
  spec: {
    name: 'run',
    summary:
      'Start the workers (all roles, or those named with --only) with /healthz, /readyz and /metrics on HTTP_PORT.',
    positionals: [],
    options: [
      {
        name: 'only',
        type: 'list',
        valueName: 'roles',
        choices: ALL_ROLES,
        description: `roles to run: ${ALL_ROLES.join(', ')} (default: all)`,
      },
      {
        name: 'group',
        type: 'list',
        valueName: 'role=group-id',
        description: 'override the consumer group of a role (canary, test)',
      },
    ],
    details: `Signals: SIGTERM / SIGINT stop fetching, finish in-flight work, commit and disconnect (exit 0);
a second signal exits at once (exit 130). Scale a role by running it in several processes (same group).`,
  },
  requires: (args) => {
    const roles = list(args, 'only').length ? list(args, 'only') : [...ALL_ROLES];
    const keys = new Set<ConfigKey>();
    for (const role of roles) for (const key of ROLE_SECRETS[role as RoleName] ?? []) keys.add(key);
    return [...keys];
  },
  run: async (args, ctx) => {
    const roles = list(args, 'only').length ? [...new Set(list(args, 'only'))] : [...ALL_ROLES];
    const groups: Record<string, string> = {};
    for (const g of list(args, 'group')) {
      const m = /^([a-z]+)=(.+)$/.exec(g);
      if (!m || !(ALL_ROLES as readonly string[]).includes(m[1]))
        throw new UsageError(`--group must be <role>=<group id> with a known role (got "${g}")`, 'run');
      groups[m[1]] = m[2];
    }
    let running;
    try {
      running = await runRoles(ctx.config, roles, { groups });
    } catch (e) {
      // refused Kafka credentials or a failed TLS handshake: name the settings to check (never the password)
      const why = explainKafkaSecurityError(e, ctx.config.kafka) ?? (e as Error).message;
      throw new CliFailure(`could not start ${roles.join(', ')}: ${why}`);
    }
    ctx.io.err(`[run] running ${roles.join(', ')}${running.http ? `; http on :${running.http.port}` : ''}\n`);
    const code = await runUntilSignal(running);
    ctx.io.err(`[run] stopped\n`);
    return code;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------------------------

const statusCommand: Command = {
  spec: {
    name: 'status',
    summary:
      'Lag per consumer group and partition, live members, DLQ depth, outbox backlog, connectors, replication slot, heartbeat function, last errors, ledger counts.',
    positionals: [],
    options: [
      JSON_OPT,
      { name: 'group', type: 'list', valueName: 'group-id', description: 'also report this consumer group' },
    ],
    details:
      "Exit code 1 when a section cannot be read, a connector/task is FAILED, a replication slot warns (inactive,\nor retaining REPLICATION_SLOT_WARN_BYTES of WAL or more) or the heartbeat function of the connector's\nheartbeat.action.query is missing or not executable by its role (DEBEZIUM_DB_USER): usable as a check.",
  },
  requires: () => [],
  run: async (args, ctx) => {
    const report = await gatherStatus(
      { admin: await ctx.admin(), statePool: ctx.statePool(), config: ctx.config, odooPool: ctx.odooPool() },
      list(args, 'group'),
    );
    ctx.io.out(
      flag(args, 'json') ? `${JSON.stringify(statusJson(report), null, 2)}\n` : renderStatus(report),
    );
    return statusHealthy(report) ? EXIT.OK : EXIT.FAILURE;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// resync
// ---------------------------------------------------------------------------------------------------------------

const resyncCommand: Command = {
  spec: {
    name: 'resync',
    summary:
      "Reset a consumer group's offsets (the consumer-side resync): to the earliest, the latest, or the first message at a time.",
    positionals: [
      { name: 'group', required: true, description: `consumer group id (e.g. sync-router, sync-projector)` },
    ],
    options: [
      {
        name: 'to',
        type: 'string',
        valueName: 'earliest|latest|ISO-8601',
        description: 'target position (required)',
      },
      {
        name: 'topic',
        type: 'list',
        valueName: 'topic',
        description: "only this topic (default: the group's topics)",
      },
      { name: 'dry-run', type: 'boolean', description: 'show the plan, change nothing' },
      {
        name: 'follow',
        type: 'boolean',
        description: 'after the reset, show progress (rate, ETA) until the lag is 0',
      },
      {
        name: 'timeout',
        type: 'string',
        valueName: 'seconds',
        description: 'give up following after this long (exit 1)',
      },
      YES_OPTION,
      JSON_OPT,
    ],
    details: `The group must have no live members: stop its workers first (status shows them).
Examples:
  ${PROGRAM} resync sync-projector --to 2024-05-01T00:00:00Z --dry-run
  ${PROGRAM} resync sync-router --to earliest --topic odoo.public.contract_line --follow`,
  },
  requires: () => [],
  run: async (args, ctx) => {
    const groupId = args.positionals[0];
    const toRaw = str(args, 'to');
    if (!toRaw) throw new UsageError('--to is required (earliest, latest or an ISO-8601 time)', 'resync');
    const to = parseResetTarget(toRaw);
    if (!to)
      throw new UsageError(
        `--to must be earliest, latest or an ISO-8601 time such as 2024-05-01T10:00:00Z (got "${toRaw}")`,
        'resync',
      );
    const timeoutS = str(args, 'timeout');
    if (timeoutS !== undefined && !/^\d+$/.test(timeoutS))
      throw new UsageError('--timeout must be a whole number of seconds', 'resync');
    const admin = await ctx.admin();
    const existing = new Set(await admin.listTopics());
    let topics = list(args, 'topic');
    for (const t of topics) if (!existing.has(t)) throw new CliFailure(`topic ${t} does not exist`);
    if (topics.length === 0)
      topics = await groupTopics(admin, groupId, knownGroups(ctx.config)[groupId] ?? []);
    if (topics.length === 0)
      throw new CliFailure(
        `group ${groupId} has no committed offsets and is not one of the pipeline's groups: name the topic with --topic`,
      );
    const { state, members } = await describeMembers(admin, groupId);
    if (members.length > 0) {
      const names = members.map((m) => `${m.clientId} (${m.memberId}) on ${m.clientHost}`);
      ctx.io.err(
        `refusing to reset ${groupId}: the group is ${state} with ${members.length} live member(s):\n  ${names.join('\n  ')}\nStop those workers first (offsets can only be reset on a group without members).\n`,
      );
      return EXIT.FAILURE;
    }
    const lags = await partitionLags(admin, groupId, topics);
    const rows = planReset(lags, await targetOffsets(admin, topics, to));
    const dryRun = flag(args, 'dry-run');
    const totals = {
      toConsume: rows.reduce((s, r) => s + r.toConsume, 0),
      replayed: rows.reduce((s, r) => s + r.replayed, 0),
      skipped: rows.reduce((s, r) => s + r.skipped, 0),
    };
    if (flag(args, 'json')) {
      ctx.io.out(
        `${JSON.stringify({ group: groupId, to: to.kind === 'time' ? to.iso : to.kind, dryRun, partitions: rows, totals }, null, 2)}\n`,
      );
    } else {
      ctx.io.out(
        `${dryRun ? '[dry run] ' : ''}reset ${groupId} to ${to.kind === 'time' ? to.iso : to.kind}\n`,
      );
      ctx.io.out(
        `${table(
          ['topic', 'partition', 'current', 'target', 'end', 'to consume', 'replayed', 'skipped'],
          rows.map((r) => [
            r.topic,
            r.partition,
            r.current ?? 'none',
            r.target,
            r.high,
            r.toConsume,
            r.replayed,
            r.skipped,
          ]),
        )}\n`,
      );
      ctx.io.out(
        `total: ${totals.toConsume} message(s) to consume, ${totals.replayed} processed again, ${totals.skipped} skipped\n`,
      );
    }
    if (dryRun) return EXIT.OK;
    requireYes(args, 'resync', `resetting the offsets of ${groupId}`);
    try {
      await applyReset(ctx.kafka(), admin, groupId, rows);
    } catch (e) {
      throw new CliFailure(
        `reset of ${groupId} failed (did a member join meanwhile?): ${(e as Error).message}`,
      );
    }
    ctx.io.err(`offsets of ${groupId} reset; start its workers to replay\n`);
    if (!flag(args, 'follow')) return EXIT.OK;
    return follow(ctx, groupId, topics, timeoutS === undefined ? undefined : Number(timeoutS) * 1000);
  },
};

async function follow(
  ctx: CommandContext,
  groupId: string,
  topics: string[],
  timeoutMs: number | undefined,
): Promise<number> {
  const admin = await ctx.admin();
  const remaining = async () => (await partitionLags(admin, groupId, topics)).reduce((s, p) => s + p.lag, 0);
  const meter = new ProgressMeter({ atMs: Date.now(), remaining: await remaining() });
  const started = Date.now();
  let lastLine = 0;
  for (;;) {
    const view = meter.update({ atMs: Date.now(), remaining: await remaining() });
    const line = `${groupId} ${formatProgress(view)}`;
    if (ctx.io.isTTY) ctx.io.err(`\r${line}\x1b[K`);
    else if (Date.now() - lastLine >= 5000 || view.remaining === 0) {
      ctx.io.err(`${line}\n`);
      lastLine = Date.now();
    }
    if (view.remaining === 0) {
      if (ctx.io.isTTY) ctx.io.err('\n');
      ctx.io.err(`${groupId} caught up\n`);
      return EXIT.OK;
    }
    if (timeoutMs !== undefined && Date.now() - started > timeoutMs) {
      if (ctx.io.isTTY) ctx.io.err('\n');
      throw new CliFailure(
        `${groupId} still has ${view.remaining} message(s) to consume after ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// snapshot
// ---------------------------------------------------------------------------------------------------------------

const snapshotCommand: Command = {
  spec: {
    name: 'snapshot',
    summary:
      'Ask Debezium for an incremental snapshot of captured tables (the source-side resync: Odoo data re-read).',
    positionals: [
      {
        name: 'table',
        required: false,
        description: 'a captured Odoo table, e.g. contract_line; several may follow (one snapshot)',
      },
    ],
    variadic: true,
    options: [
      {
        name: 'all',
        type: 'boolean',
        description: 'every captured Odoo table (listed below), in one snapshot',
      },
      {
        name: 'where',
        type: 'string',
        valueName: 'sql condition',
        description: 'only rows matching this condition, e.g. "partner_id = 42"',
      },
      {
        name: 'wait',
        type: 'boolean',
        description: 'follow the snapshot until it completes; print the rows emitted',
      },
      {
        name: 'timeout',
        type: 'string',
        valueName: 's',
        description: 'longest wait for the next notification from Debezium (default 60)',
      },
      {
        name: 'connect-log',
        type: 'string',
        valueName: 'file',
        description: "Kafka Connect's log, quoted on failure (default: .run/logs/connect.log when present)",
      },
      { name: 'dry-run', type: 'boolean', description: 'print the signal, do not insert it' },
      YES_OPTION,
      JSON_OPT,
    ],
    details: `Inserts one execute-snapshot signal for the tables into public.debezium_signal in the Odoo database
(--where: one table only), then follows the
snapshot on the connector's notification topic (notification.sink.topic.name): it returns once Debezium has
started it and read its first chunk, or with --wait once it completed, with the rows emitted per table.
Exit 1 with the connector's reason when the snapshot does not start, a table scan fails, it is aborted, the
task FAILED, or no notification arrives within --timeout.
Tables: ${snapshotTables().join(', ')}`,
  },
  requires: () => [],
  run: async (args, ctx) => {
    if (flag(args, 'all') && args.positionals.length > 0)
      throw new UsageError('name tables or give --all, not both', 'snapshot');
    const tables = flag(args, 'all') ? snapshotTables() : args.positionals;
    const signal = buildSnapshotSignal(tables, str(args, 'where'));
    const timeoutS = str(args, 'timeout') ?? '60';
    if (!/^\d+$/.test(timeoutS) || Number(timeoutS) === 0)
      throw new UsageError('--timeout must be a whole number of seconds (at least 1)', 'snapshot');
    if (flag(args, 'dry-run')) {
      if (flag(args, 'json')) ctx.io.out(`${JSON.stringify({ ...signal, inserted: false })}\n`);
      else ctx.io.out(`[dry run] would insert signal ${signal.id}: ${signal.type} ${signal.data}\n`);
      return EXIT.OK;
    }
    requireYes(
      args,
      'snapshot',
      `an incremental snapshot of ${tables.length === 1 ? tables[0] : `${tables.length} tables`} (their rows flow through the pipeline)`,
    );
    const report = await runSnapshot(
      {
        pool: ctx.odooSignalPool(),
        kafka: ctx.kafka(),
        admin: await ctx.admin(),
        connectUrl: ctx.config.connectUrl,
        connectAuth: ctx.config.connectAuth,
        connectCa: ctx.config.connectCa,
        replication: ctx.config.kafka.replication,
      },
      signal,
      {
        wait: flag(args, 'wait'),
        timeoutMs: Number(timeoutS) * 1000,
        connectLog: str(args, 'connect-log'),
        onProgress: (line) => ctx.io.err(`${line}\n`),
      },
    );
    const p = report.progress;
    for (const w of report.logWarnings) ctx.io.err(`warning: Kafka Connect logged: ${w}\n`);
    if (flag(args, 'json')) {
      ctx.io.out(
        `${JSON.stringify({
          ...signal,
          inserted: true,
          state: p.state,
          completed: report.completed,
          rowsEmitted: report.rowsEmitted,
          tables: p.tables,
          notificationTopic: report.notificationTopic,
          warnings: report.logWarnings,
        })}\n`,
      );
    } else if (report.completed) {
      ctx.io.out(`snapshot ${signal.id} completed: ${report.rowsEmitted} row(s) emitted\n`);
      ctx.io.out(
        `${table(
          ['table', 'rows', 'status'],
          p.tables.map((s) => [s.table, s.rows, s.status]),
        )}\n`,
      );
    } else {
      ctx.io.out(
        `snapshot ${signal.id} started: ${p.dataCollections.join(', ')} (Debezium is reading; --wait follows it to the end)\n`,
      );
    }
    return EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// dlq
// ---------------------------------------------------------------------------------------------------------------

const dlqCommand: Command = {
  spec: {
    name: 'dlq',
    summary:
      'Inspect dead letters (id = partition:offset) and replay them to their source topic after a fix.',
    positionals: [
      {
        name: 'action',
        required: true,
        choices: ['list', 'show', 'replay'],
        description: 'list | show <id> | replay',
      },
      { name: 'id', required: false, description: 'dead letter id for show (partition:offset)' },
    ],
    options: [
      { name: 'id', type: 'list', valueName: 'partition:offset', description: 'replay these dead letters' },
      { name: 'all', type: 'boolean', description: 'replay every dead letter not replayed yet' },
      { name: 'again', type: 'boolean', description: 'with --id: replay even if replayed before' },
      { name: 'dry-run', type: 'boolean', description: 'show what would be replayed' },
      YES_OPTION,
      JSON_OPT,
    ],
    details: `The topic is DLQ_TOPIC (default sync.dead-letter). Replays are recorded (table dlq_replay) and shown by list.
Examples:
  ${PROGRAM} dlq list
  ${PROGRAM} dlq show 0:42
  ${PROGRAM} dlq replay --id 0:42 --id 0:43
  ${PROGRAM} dlq replay --all --dry-run`,
  },
  requires: () => [],
  run: async (args, ctx) => {
    const [action, id] = args.positionals;
    const topic = ctx.config.topics.dlq;
    if (action === 'show' && !id)
      throw new UsageError('dlq show needs a dead letter id (partition:offset)', 'dlq');
    if (action !== 'show' && id)
      throw new UsageError(`unexpected argument "${id}" (use --id with replay)`, 'dlq');
    if (id && !parseDlqId(id))
      throw new UsageError(`"${id}" is not a dead letter id (partition:offset, e.g. 0:42)`, 'dlq');
    const ids = list(args, 'id');
    for (const i of ids)
      if (!parseDlqId(i))
        throw new UsageError(`--id "${i}" is not a dead letter id (partition:offset)`, 'dlq');
    if (action === 'replay' && ids.length === 0 && !flag(args, 'all'))
      throw new UsageError('dlq replay needs --id <partition:offset> (repeatable) or --all', 'dlq');
    if (action === 'replay' && ids.length > 0 && flag(args, 'all'))
      throw new UsageError('give either --id or --all, not both', 'dlq');
    if (action !== 'replay' && (ids.length || flag(args, 'all') || flag(args, 'dry-run')))
      throw new UsageError('--id, --all and --dry-run go with replay', 'dlq');
    let letters: DeadLetterRecord[];
    try {
      letters = await listDeadLetters(
        { kafka: ctx.kafka(), admin: await ctx.admin(), pool: ctx.statePool() },
        topic,
      );
    } catch (e) {
      if (/dlq_replay/.test((e as Error).message))
        throw new CliFailure(
          `the state database lacks table dlq_replay: apply schemas/state/030-ops.sql (scripts/stack up)`,
        );
      throw e;
    }
    const json = flag(args, 'json');
    const summary = (d: DeadLetterRecord) => ({
      id: d.id,
      failedAt: d.failedAt ?? d.timestamp,
      stage: d.stage,
      code: d.code,
      message: d.message,
      retriable: d.retriable,
      attempts: d.attempts,
      source: d.source,
      key: d.key?.toString('utf8') ?? null,
      replayed: d.replayed,
    });
    if (action === 'list') {
      if (json) ctx.io.out(`${JSON.stringify({ topic, deadLetters: letters.map(summary) }, null, 2)}\n`);
      else if (letters.length === 0) ctx.io.out(`${topic}: no dead letters\n`);
      else
        ctx.io.out(
          `${deadLetterListTable(letters)}\n${letters.length} dead letter(s), ${letters.filter((d) => d.replayed).length} replayed\n`,
        );
      return EXIT.OK;
    }
    if (action === 'show') {
      const d = letters.find((x) => x.id === id);
      if (!d) throw new CliFailure(`no dead letter ${id} on ${topic}`);
      if (json)
        ctx.io.out(
          `${JSON.stringify({ ...summary(d), value: d.value?.toString('utf8') ?? null }, null, 2)}\n`,
        );
      else {
        const s = summary(d);
        ctx.io.out(
          [
            `id:        ${s.id} (${topic})`,
            `failed at: ${s.failedAt}`,
            `stage:     ${s.stage ?? '-'}`,
            `code:      ${s.code ?? '-'}  retriable: ${s.retriable ?? '-'}  attempts: ${s.attempts ?? '-'}`,
            `source:    ${s.source.topic ?? '?'} partition ${s.source.partition ?? '?'} offset ${s.source.offset ?? '?'}`,
            `key:       ${s.key ?? '(null)'}`,
            `replayed:  ${s.replayed ? `${s.replayed.at} (offset ${s.replayed.offset ?? '?'})` : 'no'}`,
            `reason:    ${s.message ?? '-'}`,
            'value:',
            describeValue(d.value),
            '',
          ].join('\n'),
        );
      }
      return EXIT.OK;
    }
    // replay
    let chosen: DeadLetterRecord[];
    if (flag(args, 'all')) chosen = letters.filter((d) => !d.replayed);
    else {
      const missing = ids.filter((i) => !letters.some((d) => d.id === i));
      if (missing.length) throw new CliFailure(`no such dead letter on ${topic}: ${missing.join(', ')}`);
      chosen = letters.filter((d) => ids.includes(d.id));
      const done = chosen.filter((d) => d.replayed);
      if (done.length && !flag(args, 'again'))
        throw new CliFailure(
          `already replayed: ${done.map((d) => d.id).join(', ')} (add --again to replay once more)`,
        );
    }
    const noSource = chosen.filter((d) => !d.source.topic);
    if (noSource.length)
      throw new CliFailure(
        `dead letter(s) without a source topic header: ${noSource.map((d) => d.id).join(', ')}`,
      );
    if (flag(args, 'dry-run')) {
      if (json) ctx.io.out(`${JSON.stringify({ dryRun: true, replay: chosen.map(summary) }, null, 2)}\n`);
      else {
        for (const d of chosen)
          ctx.io.out(
            `[dry run] would replay ${d.id} → ${d.source.topic}[${d.source.partition ?? '?'}] (${d.code ?? '?'})\n`,
          );
        ctx.io.out(`${chosen.length} dead letter(s) would be replayed\n`);
      }
      return EXIT.OK;
    }
    requireYes(args, 'dlq', `replaying ${chosen.length} dead letter(s) to their source topics`);
    const producer = createProducer(ctx.kafka());
    await producer.connect();
    const results = [];
    try {
      for (const d of chosen) {
        const r = await replayDeadLetter({ producer, pool: ctx.statePool() }, topic, d);
        results.push(r);
        if (!json)
          ctx.io.out(
            `replayed ${r.id} → ${r.sourceTopic}[${r.sourcePartition ?? '?'}]@${r.replayedOffset ?? '?'}\n`,
          );
      }
    } finally {
      await producer.disconnect();
    }
    if (json) ctx.io.out(`${JSON.stringify({ replayed: results }, null, 2)}\n`);
    else ctx.io.out(`${results.length} dead letter(s) replayed\n`);
    return EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// connectors
// ---------------------------------------------------------------------------------------------------------------

const connectorsCommand: Command = {
  spec: {
    name: 'connectors',
    summary:
      'Apply connectors/*.json to Kafka Connect (idempotent PUT), show their state, restart failed ones.',
    positionals: [
      {
        name: 'action',
        required: true,
        choices: ['apply', 'status', 'restart'],
        description: 'apply | status | restart',
      },
    ],
    options: [
      { name: 'name', type: 'list', valueName: 'connector', description: 'only these connectors' },
      { name: 'no-wait', type: 'boolean', description: 'apply: do not wait until RUNNING' },
      { name: 'all-tasks', type: 'boolean', description: 'restart: every task, not only failed ones' },
      JSON_OPT,
    ],
  },
  requires: () => [],
  run: async (args, ctx) => {
    const [action] = args.positionals;
    const connect = new ConnectClient(ctx.config.connectUrl, ctx.config.connectAuth, ctx.config.connectCa);
    const names = list(args, 'name');
    const json = flag(args, 'json');
    if (action === 'apply') {
      const files = connectorFiles().filter((f) => names.length === 0 || names.includes(f.name));
      if (names.length && files.length !== names.length)
        throw new CliFailure(
          `no connectors/<name>.json for: ${names.filter((n) => !files.some((f) => f.name === n)).join(', ')}`,
        );
      const out = [];
      // the topics Debezium creates get the replication the cluster allows (issue 15 §9)
      const replication = await resolveReplication(await ctx.admin(), ctx.config.kafka.replication);
      for (const f of files) {
        const config = renderConnectorConfig(f.raw, { replication, slotName: ctx.config.debeziumSlotName });
        const result = await connect.putConfig(f.name, config);
        if (!flag(args, 'no-wait')) await connect.waitRunning(f.name, 90_000);
        out.push({ name: f.name, result });
        if (!json) ctx.io.out(`${f.name}: ${result}${flag(args, 'no-wait') ? '' : ', RUNNING'}\n`);
      }
      if (json) ctx.io.out(`${JSON.stringify({ applied: out }, null, 2)}\n`);
      return EXIT.OK;
    }
    const all = names.length ? names : (await connect.list()).sort();
    const statuses = await Promise.all(all.map(async (n) => ({ name: n, status: await connect.status(n) })));
    if (action === 'restart') {
      const restarted: string[] = [];
      for (const s of statuses) {
        if (!s.status) throw new CliFailure(`connector ${s.name} does not exist`);
        const failed = [s.status.connector, ...s.status.tasks].some((t) => t.state === 'FAILED');
        if (!failed && !flag(args, 'all-tasks')) continue;
        await connect.restart(s.name, !flag(args, 'all-tasks'));
        restarted.push(s.name);
      }
      if (json) ctx.io.out(`${JSON.stringify({ restarted }, null, 2)}\n`);
      else
        ctx.io.out(
          restarted.length ? `restarted: ${restarted.join(', ')}\n` : 'nothing failed; nothing restarted\n',
        );
      return EXIT.OK;
    }
    const failed = statuses.some(
      (s) => !s.status || [s.status.connector, ...s.status.tasks].some((t) => t.state === 'FAILED'),
    );
    if (json)
      ctx.io.out(
        `${JSON.stringify({ connectors: statuses.map((s) => ({ ...(s.status ?? { missing: true }), name: s.name })) }, null, 2)}\n`,
      );
    else
      ctx.io.out(
        `${table(
          ['connector', 'state', 'worker', 'tasks'],
          statuses.map((s) => [
            s.name,
            s.status?.connector.state ?? 'MISSING',
            s.status?.connector.worker_id,
            (s.status?.tasks ?? [])
              .map((t) => `${t.id}:${t.state}${t.trace ? ` (${t.trace.split('\n')[0].slice(0, 120)})` : ''}`)
              .join(', ') || '-',
          ]),
        )}\n`,
      );
    return failed ? EXIT.FAILURE : EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// force-create
// ---------------------------------------------------------------------------------------------------------------

const forceCreateCommand: Command = {
  spec: {
    name: 'force-create',
    summary:
      "Force the creation of a contract's subscription in OpenCell, even for a partner blocked for OC (the original's wizard).",
    positionals: [{ name: 'contract code', required: true, description: 'contract_contract.code' }],
    options: [
      { name: 'dry-run', type: 'boolean', description: 'print the intent, do not produce it' },
      YES_OPTION,
      JSON_OPT,
    ],
    details:
      'Produces a create_subscription intent with force=true to the intents topic (key partner:<id>); the projector applies it:\n' +
      'customer, account hierarchy, subscription and access, as the wizard, terminated contracts included. The lines\n' +
      'follow by replaying their dead letters (`dlq replay`), as the original re-queued their failed jobs, or with the\n' +
      'creation itself when FORCE_CREATE_WITH_LINES=true.',
  },
  requires: () => [],
  run: async (args, ctx) => {
    const code = args.positionals[0];
    // "block_contract_creation_in_OC" exists only while opencell_somconnexio is installed (odoo-schema.ts).
    const optional = await optionalOdooColumns(ctx.odooPool());
    const r = await ctx.odooPool().query(
      `SELECT cc.id, cc.partner_id, p.ref,
              ${partnerBlockedSql('p', optional)} AS blocked
         FROM contract_contract cc JOIN res_partner p ON p.id = cc.partner_id
        WHERE cc.code = $1 ORDER BY cc.id`,
      [code],
    );
    if (r.rowCount === 0) throw new CliFailure(`no contract with code "${code}" in Odoo`);
    if (r.rows.length > 1)
      throw new CliFailure(
        `${r.rows.length} contracts have code "${code}" (ids ${r.rows.map((x) => x.id).join(', ')}): fix the data in Odoo first`,
      );
    const row = r.rows[0] as {
      id: number;
      partner_id: number;
      ref: string | null;
      blocked: boolean;
    };
    const msg = operatorIntent(
      { kind: 'create_subscription', contractId: row.id },
      await contractQueue(ctx.statePool(), row.id, row.partner_id, 'create_subscription'),
      { origin: 'force-create', force: true },
    );
    if (flag(args, 'dry-run')) {
      ctx.io.out(`${JSON.stringify(msg, null, 2)}\n`);
      return EXIT.OK;
    }
    requireYes(args, 'force-create', `creating contract ${args.positionals[0]} in OpenCell`);
    const [at] = await produceIntents(ctx.kafka(), ctx.config, [msg]);
    if (flag(args, 'json'))
      ctx.io.out(
        `${JSON.stringify({ intentId: msg.intentId, contractId: row.id, partnerId: row.partner_id, blocked: row.blocked, topic: ctx.config.topics.intents, at })}\n`,
      );
    else
      ctx.io.out(
        `forced create_subscription for contract ${code} (id ${row.id}, partner ${row.ref ?? row.partner_id}${row.blocked ? ', blocked for OC' : ''}) → ${ctx.config.topics.intents} ${at}, intent ${msg.intentId}\n`,
      );
    return EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// force-iban, compensate (docs/behaviour.md W3, W5): operator intents about one contract
// ---------------------------------------------------------------------------------------------------------------

const WAIT_OPT = {
  name: 'wait',
  type: 'string',
  valueName: 'seconds',
  description: "wait up to this long for the projector's outcome (ledger) and report it",
} as const;

/** The one contract with this code, as the projector will see it (refuses an unknown or ambiguous code). */
async function contractByCode(ctx: CommandContext, code: string): Promise<ContractView> {
  const r = await ctx
    .odooPool()
    .query<{ id: number }>(`SELECT id FROM contract_contract WHERE code = $1 ORDER BY id`, [code]);
  if (r.rows.length === 0) throw new CliFailure(`no contract with code "${code}" in Odoo`);
  if (r.rows.length > 1)
    throw new CliFailure(
      `${r.rows.length} contracts have code "${code}" (ids ${r.rows.map((x) => x.id).join(', ')}): fix the data in Odoo first`,
    );
  const contract = await new OdooViews(ctx.odooPool(), { lang: ctx.config.odoo.lang }).contract(r.rows[0].id);
  if (!contract) throw new CliFailure(`no contract with code "${code}" in Odoo`);
  return contract;
}

function waitSeconds(args: ParsedArgs, command: string): number | null {
  const raw = str(args, 'wait');
  if (raw === undefined) return null;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0)
    throw new UsageError(`--wait must be a positive number of seconds (got "${raw}")`, command);
  return Number(raw);
}

/**
 * Produces one operator intent; with --wait, reports the projector's outcome from the ledger (exit 1 unless applied
 * or skipped, or when none came in time).
 */
async function submitOperatorIntent(
  ctx: CommandContext,
  args: ParsedArgs,
  msg: IntentMessage,
  what: string,
  command: string,
  wait: number | null = waitSeconds(args, command),
): Promise<number> {
  const since = wait === null ? null : await ledgerNow(ctx.statePool());
  const [at] = await produceIntents(ctx.kafka(), ctx.config, [msg]);
  const json = flag(args, 'json');
  if (!json) ctx.io.out(`${what} → ${ctx.config.topics.intents} ${at}, intent ${msg.intentId}\n`);
  if (wait === null || since === null) {
    if (json)
      ctx.io.out(`${JSON.stringify({ intentId: msg.intentId, topic: ctx.config.topics.intents, at })}\n`);
    return EXIT.OK;
  }
  const outcome = await awaitIntentOutcome(ctx.statePool(), msg.intentId, since, wait * 1000);
  if (json)
    ctx.io.out(
      `${JSON.stringify({ intentId: msg.intentId, topic: ctx.config.topics.intents, at, outcome: outcome?.outcome ?? null, error: outcome?.errorMessage ?? null })}\n`,
    );
  if (outcome === null)
    throw new CliFailure(
      `no outcome for intent ${msg.intentId} within ${wait} s (is the projector running?); it stays queued`,
    );
  if (!json)
    ctx.io.out(
      `outcome: ${outcome.outcome}${outcome.calls.length ? ` (${outcome.calls.join(', ')})` : ''}${outcome.errorMessage ? `: ${outcome.errorMessage}` : ''}\n`,
    );
  return outcome.outcome === 'applied' || outcome.outcome === 'skipped' ? EXIT.OK : EXIT.FAILURE;
}

const forceIbanCommand: Command = {
  spec: {
    name: 'force-iban',
    summary:
      "Force a contract's current IBAN onto its own OpenCell user account, even when the customer has several (the original's wizard).",
    positionals: [{ name: 'contract code', required: true, description: 'contract_contract.code' }],
    options: [
      { name: 'dry-run', type: 'boolean', description: 'print the intent, do not produce it' },
      WAIT_OPT,
      YES_OPTION,
      JSON_OPT,
    ],
    details:
      "Produces a force_iban intent to the intents topic (key partner:<id>, after the customer's other intents); the\n" +
      "projector sends the contract's IBAN to the user account of its subscription, terminated or not (as the wizard).\n" +
      'Refused: an unknown contract, no mandate or bank account, and with REFUSE_INVALID_IBAN an invalid IBAN. The\n' +
      'outcome is a ledger entry and a sync event.',
  },
  requires: () => [],
  run: async (args, ctx) => {
    const code = args.positionals[0];
    waitSeconds(args, 'force-iban'); // a bad --wait is refused before anything is read
    const contract = await contractByCode(ctx, code);
    const refused = forceIbanRefusal(contract, projectionConfig(ctx.config));
    if (refused !== null) throw new CliFailure(refused);
    const msg = operatorIntent(
      { kind: 'force_iban', contractId: contract.id },
      await contractQueue(ctx.statePool(), contract.id, contract.partner.id),
      { origin: 'force-iban' },
    );
    if (flag(args, 'dry-run')) {
      ctx.io.out(`${JSON.stringify(msg, null, 2)}\n`);
      return EXIT.OK;
    }
    const what = `force IBAN ${maskIban(contract.mandate?.iban ?? '')} of contract ${code} (id ${contract.id}, partner ${contract.partner.ref ?? contract.partner.id}) onto the user account of subscription ${code}`;
    if (!flag(args, 'yes')) ctx.io.out(`would ${what}\n`);
    requireYes(args, 'force-iban', `forcing the IBAN of contract ${code} in OpenCell`);
    return submitOperatorIntent(ctx, args, msg, `forced IBAN of contract ${code}`, 'force-iban');
  },
};

const AMOUNT_RE = /^\d+(\.\d+)?$/;

function positiveNumber(args: ParsedArgs, name: string, command: string): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  if (!AMOUNT_RE.test(raw) || Number(raw) <= 0)
    throw new UsageError(
      `--${name} must be a positive number with a dot for decimals (got "${raw}")`,
      command,
    );
  return Number(raw);
}

/**
 * The wizard's compensation was a synchronous call whose outcome the user saw at once (docs/parity.md W5); the
 * command queues it behind the customer's intents (one writer per customer) and by default waits this long for it.
 */
const COMPENSATE_WAIT_S = 60;

const compensateCommand: Command = {
  spec: {
    name: 'compensate',
    summary:
      "Apply a compensation to a contract in OpenCell: one-shot CH_SC_OSO_COMPENSATION for −amount (the original's wizard), once per --key.",
    positionals: [{ name: 'contract code', required: true, description: 'contract_contract.code' }],
    options: [
      {
        name: 'amount',
        type: 'string',
        valueName: 'EUR',
        description: 'amount without taxes (4 decimals kept)',
      },
      {
        name: 'days',
        type: 'string',
        valueName: 'n',
        description: 'instead of --amount: days without service (amount = days × monthly price ÷ 30)',
      },
      {
        name: 'monthly-price',
        type: 'string',
        valueName: 'EUR',
        description: "with --days: the tariff's monthly price without taxes (pricelist 0IVA)",
      },
      {
        name: 'description',
        type: 'string',
        valueName: 'text',
        description: 'the charge description (required)',
      },
      {
        name: 'date',
        type: 'string',
        valueName: 'YYYY-MM-DD',
        description: 'operation date (default: today, UTC)',
      },
      {
        name: 'key',
        type: 'string',
        valueName: 'caller key',
        description:
          'idempotency key: the same key is applied once (default: a new key, so each run is one charge, as the wizard)',
      },
      { name: 'dry-run', type: 'boolean', description: 'print the intent, do not produce it' },
      {
        ...WAIT_OPT,
        description: `wait up to this long for the projector's outcome and report it (default ${COMPENSATE_WAIT_S} s)`,
      },
      { name: 'no-wait', type: 'boolean', description: 'only queue the intent, do not wait for its outcome' },
      YES_OPTION,
      JSON_OPT,
    ],
    details:
      'Produces an apply_compensation intent to the intents topic (key partner:<id>) and, as the wizard answered at once,\n' +
      "waits for the projector's outcome and reports it (--wait, --no-wait). The projector applies it once per caller\n" +
      'key, even across a crash or a lost answer (it looks for the charge in OpenCell before applying it again). A key\n' +
      'already applied prints so and exits 0; a key already used for another compensation is refused. Without --key each\n' +
      'run is a new charge, as each confirmation of the wizard was. Refused for a terminated contract (as the original).',
  },
  requires: () => [],
  run: async (args, ctx) => {
    const C = 'compensate';
    const code = args.positionals[0];
    waitSeconds(args, C); // a bad --wait is refused before anything is read
    const amountGiven = positiveNumber(args, 'amount', C);
    const days = positiveNumber(args, 'days', C);
    if (days !== undefined && !Number.isInteger(days))
      throw new UsageError(`--days must be a whole number of days (got "${str(args, 'days')}")`, C);
    const price = positiveNumber(args, 'monthly-price', C);
    if ((amountGiven === undefined) === (days === undefined))
      throw new UsageError('give either --amount <EUR> or --days <n> with --monthly-price <EUR>', C);
    if (days !== undefined && price === undefined)
      throw new UsageError('--days needs --monthly-price <EUR> (amount = days × price ÷ 30)', C);
    if (days === undefined && price !== undefined)
      throw new UsageError('--monthly-price goes with --days', C);
    const amount = Math.round((amountGiven ?? compensationAmount(days!, price!)) * 10_000) / 10_000;
    if (amount <= 0) throw new UsageError('the compensation amount rounds to 0', C);
    const description = str(args, 'description')?.trim();
    if (!description) throw new UsageError('--description <text> is required', C);
    if (flag(args, 'no-wait') && str(args, 'wait') !== undefined)
      throw new UsageError('give either --wait <seconds> or --no-wait, not both', C);
    // no key: a new one, so this run is one charge and running it again charges again, as the wizard
    const key = str(args, 'key') ?? `run-${randomUUID()}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/.test(key))
      throw new UsageError(
        '--key must be 1–128 characters: letters, digits and . _ : @ / - (not starting with a sign)',
        C,
      );
    const date = str(args, 'date') ?? new Date().toISOString().slice(0, 10);
    if (
      !/^\d{4}-\d{2}-\d{2}$/.test(date) ||
      new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date
    )
      throw new UsageError(`--date must be a day as YYYY-MM-DD (got "${date}")`, C);

    const contract = await contractByCode(ctx, code);
    // the same checks and payload as the projection (payloads.ts compensationRequest: refuses a terminated contract)
    let body;
    try {
      body = compensationRequest(contract, amount, description, date);
    } catch (e) {
      throw new CliFailure((e as Error).message);
    }
    const recorded = await readEffect(ctx.statePool(), compensationEffectKey(key));
    // the key names one compensation: another contract, amount or description under it is refused, finished or not
    if (
      recorded !== null &&
      (recorded.opencellCode !== contract.code || recorded.chargeCode !== oneShotIdentity(body))
    )
      throw new CliFailure(
        `key "${key}" was already used for another compensation (subscription ${recorded.opencellCode}, intent ${recorded.intentId}): use a new key`,
      );
    if (recorded !== null && recorded.outcome !== 'pending') {
      const when = recorded.appliedAt.toISOString();
      if (flag(args, 'json'))
        ctx.io.out(
          `${JSON.stringify({ alreadyApplied: true, key, intentId: recorded.intentId, appliedAt: when })}\n`,
        );
      else
        ctx.io.out(
          `compensation "${key}" was already applied to contract ${code} at ${when} (intent ${recorded.intentId}): nothing to do\n`,
        );
      return EXIT.OK;
    }
    const msg = operatorIntent(
      {
        kind: 'apply_compensation',
        contractId: contract.id,
        key,
        amount,
        description,
        operationDate: date,
      },
      await contractQueue(ctx.statePool(), contract.id, contract.partner.id),
      { origin: 'compensate', intentId: compensationIntentId(key) },
    );
    if (flag(args, 'dry-run')) {
      ctx.io.out(`${JSON.stringify(msg, null, 2)}\n`);
      return EXIT.OK;
    }
    const what = `compensation ${body.amountWithoutTax} EUR (CH_SC_OSO_COMPENSATION) on contract ${code}, "${description}", operation date ${date}, key "${key}"`;
    if (!flag(args, 'yes')) ctx.io.out(`would apply ${what}\n`);
    if (recorded !== null)
      ctx.io.out(
        `an earlier submission of "${key}" is unfinished (its outcome is unknown): submitting it again is safe, the projector looks for the charge in OpenCell first\n`,
      );
    requireYes(args, C, `applying a compensation to contract ${code} in OpenCell`);
    const wait = flag(args, 'no-wait') ? null : (waitSeconds(args, C) ?? COMPENSATE_WAIT_S);
    return submitOperatorIntent(ctx, args, msg, `submitted ${what}`, C, wait);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// reconcile
// ---------------------------------------------------------------------------------------------------------------

const reconcileCommand: Command = {
  spec: {
    name: 'reconcile',
    summary:
      'Compare Odoo with OpenCell (customer, accounts, subscriptions, services, accesses) and print the drift; --fix emits the repairing intents.',
    positionals: [],
    options: [
      {
        name: 'partner',
        type: 'string',
        valueName: 'ref',
        description: 'the partner with this ref (customer code)',
      },
      { name: 'contract', type: 'string', valueName: 'code', description: 'this contract only' },
      { name: 'all', type: 'boolean', description: 'every partner holding contracts' },
      { name: 'fix', type: 'boolean', description: 'produce the intents that repair the drift' },
      YES_OPTION,
      JSON_OPT,
    ],
    details:
      'Give exactly one of --partner, --contract, --all. Drift without an automatic repair is reported only.',
  },
  requires: () => ['OPENCELL_PASSWORD'],
  run: async (args, ctx) => {
    const given = (['partner', 'contract', 'all'] as const).filter((k) => args.options[k] !== undefined);
    if (given.length !== 1)
      throw new UsageError('give exactly one of --partner <ref>, --contract <code>, --all', 'reconcile');
    if (flag(args, 'fix')) requireYes(args, 'reconcile', 'repairing the drift in OpenCell (--fix)');
    const scope: ReconcileScope = str(args, 'partner')
      ? { partnerRef: str(args, 'partner') as string }
      : str(args, 'contract')
        ? { contractCode: str(args, 'contract') as string }
        : { all: true };
    const partners = await partnersInScope(ctx.odooPool(), scope);
    if (partners.length === 0 && !('all' in scope))
      throw new CliFailure(
        `nothing in Odoo matches ${'partnerRef' in scope ? `partner ref "${scope.partnerRef}"` : `contract code "${(scope as { contractCode: string }).contractCode}"`}`,
      );
    const client = new OpenCellClient(ctx.config.opencell);
    const deps = {
      odoo: new OdooViews(ctx.odooPool(), { lang: ctx.config.odoo.lang }),
      opencell: new OpenCellState(client, { billingAccounts: false }),
    };
    const drift: Drift[] = [];
    try {
      for (const p of partners)
        drift.push(
          ...(await driftOfPartner(deps, p, {
            contractCode: 'contractCode' in scope ? scope.contractCode : undefined,
            config: projectionConfig(ctx.config),
          })),
        );
    } finally {
      client.close();
    }
    const fixes = flag(args, 'fix') ? drift.filter((d) => d.fix !== null) : [];
    const messages: IntentMessage[] = [];
    for (const d of fixes)
      messages.push(
        operatorIntent(
          d.fix!,
          d.contractId === null
            ? { partnerId: d.partnerId, contractId: null }
            : await contractQueue(ctx.statePool(), d.contractId, d.partnerId, d.fix!.kind),
          { origin: 'reconcile', repair: true },
        ),
      );
    // one repair per (intent kind, target): create_subscription covers several drifts of one contract
    const seen = new Set<string>();
    const unique = messages.filter((m) => {
      const k = `${m.intent.kind}|${JSON.stringify(m.intent)}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    const produced = unique.length ? await produceIntents(ctx.kafka(), ctx.config, unique) : [];
    if (flag(args, 'json')) {
      ctx.io.out(
        `${JSON.stringify({ partners: partners.length, drift, fixed: unique.map((m, i) => ({ intentId: m.intentId, kind: m.intent.kind, aggregateKey: m.aggregateKey, at: produced[i] })) }, null, 2)}\n`,
      );
      return EXIT.OK;
    }
    if (drift.length === 0) ctx.io.out(`no drift (${partners.length} partner(s) checked)\n`);
    else
      ctx.io.out(
        `${table(
          ['partner', 'contract', 'drift', 'repair', 'detail'],
          drift.map((d) => [
            d.partnerRef ?? d.partnerId,
            d.contractCode,
            d.kind,
            d.fix ? d.fix.kind : 'manual',
            d.detail,
          ]),
        )}\n${drift.length} drift item(s) over ${partners.length} partner(s)\n`,
      );
    if (flag(args, 'fix'))
      ctx.io.out(`${unique.length} repairing intent(s) produced to ${ctx.config.topics.intents}\n`);
    else if (drift.some((d) => d.fix)) ctx.io.out(`run again with --fix to produce the repairing intents\n`);
    return EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// migrate
// ---------------------------------------------------------------------------------------------------------------

const migrateCommand: Command = {
  spec: {
    name: 'migrate',
    summary:
      "Apply the state database's migrations (schemas/state/*.sql) not applied yet, in name order, as STATE_DATABASE_URL's role.",
    positionals: [],
    options: [
      {
        name: 'dry-run',
        type: 'boolean',
        description: 'list the migrations not applied yet, change nothing',
      },
      YES_OPTION,
      JSON_OPT,
    ],
    details:
      'Connects as the owner of the state database (STATE_DATABASE_URL, role sync), never as a superuser. Each file\n' +
      'runs in one transaction and is recorded in schema_migrations; a second run applies nothing. Run it before\n' +
      'rolling out a new version (README "Upgrade"); the files are additive, so old and new versions run side by side.\n' +
      'Examples:\n' +
      `  ${PROGRAM} migrate --dry-run\n` +
      `  ${PROGRAM} migrate --yes`,
  },
  requires: () => [],
  run: async (args, ctx) => {
    const all = stateMigrations();
    const pending = await pendingMigrations(ctx.statePool(), all);
    const json = flag(args, 'json');
    if (flag(args, 'dry-run') || pending.length === 0 || !flag(args, 'yes')) {
      if (json)
        ctx.io.out(
          `${JSON.stringify({ dryRun: !flag(args, 'yes'), pending: pending.map((m) => m.name), applied: [] })}\n`,
        );
      else if (pending.length === 0) ctx.io.out(`state database up to date (${all.length} migrations)\n`);
      else
        ctx.io.out(
          `${pending.length} of ${all.length} migration(s) not applied yet:\n${pending.map((m) => `  ${m.name}\n`).join('')}`,
        );
      if (flag(args, 'dry-run') || pending.length === 0) return EXIT.OK;
    }
    requireYes(args, 'migrate', `applying ${pending.length} migration(s) to the state database`);
    const client = await ctx.statePool().connect();
    let applied: string[];
    try {
      applied = await applyMigrations(client, all, (m) => {
        if (!json) ctx.io.out(`applying ${m.name}\n`);
      });
    } finally {
      client.release();
    }
    if (json) ctx.io.out(`${JSON.stringify({ dryRun: false, pending: [], applied })}\n`);
    else ctx.io.out(`applied ${applied.length} migration(s); state database up to date\n`);
    return EXIT.OK;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// dispatch
// ---------------------------------------------------------------------------------------------------------------

export const COMMANDS: Record<string, Command> = {
  run: runCommand,
  status: statusCommand,
  resync: resyncCommand,
  snapshot: snapshotCommand,
  dlq: dlqCommand,
  connectors: connectorsCommand,
  'force-create': forceCreateCommand,
  'force-iban': forceIbanCommand,
  compensate: compensateCommand,
  reconcile: reconcileCommand,
  migrate: migrateCommand,
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Operations CLI of the Odoo → OpenCell sync pipeline.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.spec.summary}`),
    '',
    `Run '${PROGRAM} <command> --help' for a command's options.`,
    'Configuration comes from the environment (and SYNC_CONFIG_FILE); see docs/operations.md.',
    'Exit codes: 0 ok, 1 runtime failure, 2 bad arguments, 3 configuration error, 130 interrupted twice.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(mainHelp());
    return EXIT.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const sub = name === 'help' ? rest[0] : undefined;
    if (sub && COMMANDS[sub]) io.out(renderHelp(PROGRAM, COMMANDS[sub].spec));
    else io.out(mainHelp());
    return EXIT.OK;
  }
  if (name === '--version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    io.out(`${(require('../../package.json') as { version: string }).version}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`error: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.USAGE;
  }
  const resources: { kafka?: Kafka; admin?: Promise<Admin>; state?: Pool; odoo?: Pool; signal?: Pool } = {};
  let kafkaSettings: KafkaClientSettings | undefined;
  try {
    const args = parseArgs(rest, command.spec);
    if (args.help) {
      io.out(renderHelp(PROGRAM, command.spec));
      return EXIT.OK;
    }
    const config = loadConfig(io.env, command.requires(args));
    kafkaSettings = config.kafka;
    const ctx: CommandContext = {
      io,
      config,
      kafka: () => (resources.kafka ??= createKafka(config.kafka, `${config.kafka.clientId}-cli`)),
      admin: () =>
        (resources.admin ??= (async () => {
          const a = ctx.kafka().admin();
          await a.connect();
          return a;
        })()),
      statePool: () =>
        (resources.state ??= createPool({
          connectionString: config.stateDatabaseUrl,
          max: 2,
          application_name: 'odoo-opencell-sync-cli',
        })),
      odooPool: () =>
        (resources.odoo ??= createPool({
          connectionString: config.odooDatabaseUrl,
          max: 2,
          application_name: 'odoo-opencell-sync-cli',
        })),
      odooSignalPool: () =>
        (resources.signal ??= createPool({
          connectionString: config.odooSignalDatabaseUrl,
          max: 1,
          application_name: 'odoo-opencell-sync-cli',
        })),
    };
    return await command.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\nRun '${PROGRAM} ${e.command ?? name} --help' for usage.\n`);
      return EXIT.USAGE;
    }
    if (e instanceof ConfigError) {
      io.err(
        `configuration error (${e.problems.length} problem${e.problems.length > 1 ? 's' : ''}):\n  - ${e.problems.join('\n  - ')}\n`,
      );
      return EXIT.CONFIG;
    }
    if (e instanceof CliFailure) {
      io.err(`error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    // refused Kafka credentials or a failed TLS handshake: say which setting to check (never the password)
    const security = kafkaSettings && explainKafkaSecurityError(e, kafkaSettings);
    io.err(`error: ${redactString(security ?? err.message)}\n`);
    if (io.env.LOG_LEVEL === 'debug' && err.stack) io.err(`${err.stack}\n`);
    return EXIT.FAILURE;
  } finally {
    if (resources.admin)
      await (await resources.admin.catch(() => undefined))?.disconnect().catch(() => undefined);
    await resources.state?.end().catch(() => undefined);
    await resources.odoo?.end().catch(() => undefined);
    await resources.signal?.end().catch(() => undefined);
  }
}

if (require.main === module) {
  const refusal = unsupportedNode();
  if (refusal) {
    process.stderr.write(refusal);
    process.exit(EXIT.FAILURE);
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // kafkajs and pg may keep timers alive a moment; do not wait for them
      setTimeout(() => process.exit(code), 200).unref();
    },
    (e) => {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exit(EXIT.FAILURE);
    },
  );
}
