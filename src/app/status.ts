/**
 * `status`: one snapshot of the pipeline's health for operators and scripts. Every section is gathered on its
 * own; a section that cannot be read carries its error instead of failing the whole report.
 */
import type { Admin } from 'kafkajs';
import type { Pool } from 'pg';
import type { Config } from '../core/config';
import { routerTopics, PROJECTOR_GROUP, ROUTER_GROUP } from '../flows/projection/stages';
import { ConnectClient } from '../adapters/kafka-connect/client';
import { groupInfo, GroupInfo, topicOffsets } from '../adapters/kafka/groups';
import {
  replicationSlots,
  slotWarnings,
  formatBytes,
  SlotHealth,
} from '../adapters/postgres/replication-slots';
import {
  heartbeatFunctionHealth,
  heartbeatWarnings,
  type HeartbeatFunctionHealth,
} from '../adapters/postgres/heartbeat-function';
import { table } from './args';
import { SNAPSHOT_HEARTBEAT_FUNCTION } from './pg-setup';

export const INVOICE_LOADER_GROUP = 'invoice-loader';

/** The pipeline's own consumer groups and the topics their role subscribes to. */
export function knownGroups(config: Config): Record<string, string[]> {
  return {
    [ROUTER_GROUP]: routerTopics(config.topics.prefix),
    [PROJECTOR_GROUP]: [config.topics.intents],
    [INVOICE_LOADER_GROUP]: [config.topics.invoiceEvents],
  };
}

type Section<T> = { ok: true; value: T } | { ok: false; error: string };

export interface StatusReport {
  at: string;
  groupList: (GroupInfo | { groupId: string; error: string })[];
  dlq: Section<{ topic: string; depth: number; replayed: number | null }>;
  outbox: Section<{ backlog: number; oldest: string | null; parked: number }>;
  connectors: Section<
    { name: string; state: string; tasks: { id: number; state: string; trace?: string }[] }[]
  >;
  lastErrors: Section<
    {
      /** the consumer-group stage (projector, router, invoice-loader) */
      stage: string;
      /** null for a dead letter that has no ledger record (router, invoice loader, malformed intent) */
      intentId: string | null;
      kind: string | null;
      /** the intent's aggregate (`partner:<id>`), or the dead letter's source position `topic[partition]@offset` */
      aggregateKey: string;
      outcome: string;
      errorCode: string;
      errorMessage: string | null;
      at: string;
    }[]
  >;
  ledger: Section<Record<string, number>>;
  /** the logical replication slots on the Odoo database (absent when no Odoo pool was given) */
  slots?: Section<{ slots: SlotHealth[]; warnBytes: number; warnings: string[] }>;
  /** the function of the connector's heartbeat.action.query on the Odoo database (absent without an Odoo pool) */
  heartbeat?: Section<HeartbeatFunctionHealth & { warnings: string[] }>;
}

async function section<T>(fn: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export async function dlqDepth(admin: Admin, topic: string): Promise<number> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return 0;
  const offsets = await topicOffsets(admin, topic);
  return offsets.reduce((s, p) => s + Number(BigInt(p.high) - BigInt(p.low)), 0);
}

export async function outboxBacklog(
  pool: Pool,
): Promise<{ backlog: number; oldest: string | null; parked: number }> {
  const r = await pool.query<{ n: string; oldest: Date | null; parked: string }>(
    `SELECT count(*) AS n, min(created_at) AS oldest, count(*) FILTER (WHERE last_error IS NOT NULL) AS parked
       FROM outbox WHERE published_at IS NULL`,
  );
  const row = r.rows[0];
  return {
    backlog: Number(row.n),
    oldest: row.oldest ? new Date(row.oldest).toISOString() : null,
    parked: Number(row.parked),
  };
}

export async function gatherStatus(
  deps: { admin: Admin; statePool: Pool; config: Config; odooPool?: Pool },
  extraGroups: readonly string[] = [],
): Promise<StatusReport> {
  const { admin, statePool, config, odooPool } = deps;
  const known = knownGroups(config);
  const groupIds = [...new Set([...Object.keys(known), ...extraGroups])];
  const groupList = await Promise.all(
    groupIds.map(async (g) => {
      try {
        return await groupInfo(admin, g, known[g] ?? []);
      } catch (e) {
        return { groupId: g, error: (e as Error).message };
      }
    }),
  );
  const slots = odooPool
    ? section(async () => {
        const list = await replicationSlots(odooPool);
        return {
          slots: list,
          warnBytes: config.slotWarnBytes,
          warnings: slotWarnings(list, config.slotWarnBytes),
        };
      })
    : undefined;
  const heartbeat = odooPool
    ? section(async () => {
        const h = await heartbeatFunctionHealth(
          odooPool,
          `${SNAPSHOT_HEARTBEAT_FUNCTION}()`,
          config.debeziumDbUser,
        );
        return { ...h, warnings: heartbeatWarnings(h) };
      })
    : undefined;
  const [dlq, outbox, connectors, lastErrors, ledger] = await Promise.all([
    section(async () => {
      const depth = await dlqDepth(admin, config.topics.dlq);
      let replayed: number | null;
      try {
        const r = await statePool.query<{ n: string }>(
          `SELECT count(*) AS n FROM dlq_replay WHERE dlq_topic = $1`,
          [config.topics.dlq],
        );
        replayed = Number(r.rows[0].n);
      } catch {
        replayed = null; // migration 030 not applied
      }
      return { topic: config.topics.dlq, depth, replayed };
    }),
    section(() => outboxBacklog(statePool)),
    section(async () => {
      const connect = new ConnectClient(config.connectUrl, config.connectAuth, config.connectCa);
      const names = await connect.list();
      const out = [];
      for (const name of names.sort()) {
        const s = await connect.status(name);
        out.push({
          name,
          state: s?.connector.state ?? 'MISSING',
          tasks: (s?.tasks ?? []).map((t) => ({
            id: t.id,
            state: t.state,
            ...(t.trace ? { trace: t.trace.split('\n')[0] } : {}),
          })),
        });
      }
      return out;
    }),
    section(() => readLastErrors(statePool)),
    section(async () => {
      const r = await statePool.query<{ outcome: string; n: string }>(
        `SELECT outcome, count(*) AS n FROM ledger_intent GROUP BY outcome ORDER BY outcome`,
      );
      return Object.fromEntries(r.rows.map((x) => [x.outcome, Number(x.n)]));
    }),
  ]);
  return {
    at: new Date().toISOString(),
    groupList,
    dlq,
    outbox,
    connectors,
    lastErrors,
    ledger,
    ...(slots ? { slots: await slots } : {}),
    ...(heartbeat ? { heartbeat: await heartbeat } : {}),
  };
}

/**
 * The last ten errors: the projector's intents that ended with an error (ledger) and the dead letters of the other
 * stages and of intents too malformed for a ledger record (table dead_letter, migration 070), newest first.
 */
export async function readLastErrors(
  pool: Pool,
): Promise<Extract<StatusReport['lastErrors'], { ok: true }>['value']> {
  const ledgerSql = `SELECT 'projector' AS stage, intent_id, kind, aggregate_key AS subject, outcome, error_code,
                            error_message, updated_at AS at
                       FROM ledger_intent WHERE error_code IS NOT NULL`;
  const deadLetterSql = `SELECT stage, NULL AS intent_id, NULL AS kind,
                                source_topic || '[' || source_partition || ']@' || source_offset AS subject,
                                'dead_lettered' AS outcome, code AS error_code, reason AS error_message, failed_at AS at
                           FROM dead_letter WHERE stage <> 'projector' OR code = 'MALFORMED_EVENT'`;
  let rows;
  try {
    rows = (await pool.query(`${ledgerSql} UNION ALL ${deadLetterSql} ORDER BY at DESC LIMIT 10`)).rows;
  } catch (e) {
    if ((e as { code?: string }).code !== '42P01') throw e; // dead_letter missing: migration 070 not applied
    rows = (await pool.query(`${ledgerSql} ORDER BY at DESC LIMIT 10`)).rows;
  }
  return rows.map((x) => ({
    stage: String(x.stage),
    intentId: x.intent_id === null ? null : String(x.intent_id),
    kind: x.kind === null ? null : String(x.kind),
    aggregateKey: String(x.subject),
    outcome: String(x.outcome),
    errorCode: String(x.error_code),
    errorMessage: x.error_message === null ? null : String(x.error_message),
    at: new Date(x.at as Date).toISOString(),
  }));
}

/** The report's warnings: the replication slots' and the heartbeat function's. */
export function statusWarnings(r: StatusReport): string[] {
  return [
    ...(r.slots?.ok ? r.slots.value.warnings : []),
    ...(r.heartbeat?.ok ? r.heartbeat.value.warnings : []),
  ];
}

/** True when every section could be read, nothing is FAILED and nothing warns. */
export function statusHealthy(r: StatusReport): boolean {
  const sections = [
    r.dlq,
    r.outbox,
    r.connectors,
    r.lastErrors,
    r.ledger,
    ...(r.slots ? [r.slots] : []),
    ...(r.heartbeat ? [r.heartbeat] : []),
  ];
  const sectionsOk = sections.every((s) => s.ok) && statusWarnings(r).length === 0;
  const groupsOk = r.groupList.every((g) => !('error' in g));
  const connectorsOk =
    !r.connectors.ok ||
    r.connectors.value.every((c) => c.state !== 'FAILED' && c.tasks.every((t) => t.state !== 'FAILED'));
  return sectionsOk && groupsOk && connectorsOk;
}

export function statusJson(r: StatusReport): unknown {
  const unwrap = <T>(s: Section<T>) => (s.ok ? s.value : { error: s.error });
  return {
    at: r.at,
    healthy: statusHealthy(r),
    warnings: statusWarnings(r),
    groups: r.groupList,
    dlq: unwrap(r.dlq),
    outbox: unwrap(r.outbox),
    connectors: unwrap(r.connectors),
    lastErrors: unwrap(r.lastErrors),
    ledger: unwrap(r.ledger),
    ...(r.slots ? { replicationSlots: unwrap(r.slots) } : {}),
    ...(r.heartbeat ? { heartbeatFunction: unwrap(r.heartbeat) } : {}),
  };
}

export function renderStatus(r: StatusReport): string {
  const out: string[] = [`status at ${r.at}`, ''];
  const warnings = statusWarnings(r);
  if (warnings.length) out.push(...warnings.map((w) => `WARNING ${w}`), '');
  out.push('Consumer groups');
  for (const g of r.groupList) {
    if ('error' in g) {
      out.push(`  ${g.groupId}: ERROR ${g.error}`, '');
      continue;
    }
    const members = g.members.length
      ? g.members.map((m) => `${m.clientId}@${m.clientHost}`).join(', ')
      : 'none';
    out.push(
      `  ${g.groupId}  state=${g.state}  members=${g.members.length} (${members})  total lag=${g.totalLag}`,
    );
    if (g.partitions.length === 0) out.push('    (no committed offsets)');
    else
      out.push(
        indent(
          table(
            ['topic', 'partition', 'committed', 'end', 'lag'],
            g.partitions.map((p) => [p.topic, p.partition, p.committed, p.high, p.lag]),
          ),
          4,
        ),
      );
    out.push('');
  }
  out.push('Dead letters');
  out.push(
    r.dlq.ok
      ? `  ${r.dlq.value.topic}: ${r.dlq.value.depth} message(s)${r.dlq.value.replayed === null ? '' : `, ${r.dlq.value.replayed} replayed`}`
      : `  ERROR ${r.dlq.error}`,
    '',
  );
  out.push('Outbox');
  out.push(
    r.outbox.ok
      ? `  backlog ${r.outbox.value.backlog} unpublished row(s)${r.outbox.value.oldest ? `, oldest ${r.outbox.value.oldest}` : ''}${r.outbox.value.parked ? `, ${r.outbox.value.parked} parked` : ''}`
      : `  ERROR ${r.outbox.error}`,
    '',
  );
  out.push('Connectors');
  if (!r.connectors.ok) out.push(`  ERROR ${r.connectors.error}`);
  else if (r.connectors.value.length === 0) out.push('  (none)');
  else
    out.push(
      indent(
        table(
          ['connector', 'state', 'tasks'],
          r.connectors.value.map((c) => [
            c.name,
            c.state,
            c.tasks.map((t) => `${t.id}:${t.state}${t.trace ? ` (${t.trace})` : ''}`).join(', ') || '-',
          ]),
        ),
        2,
      ),
    );
  if (r.slots) {
    out.push('', 'Replication slots (Odoo database)');
    if (!r.slots.ok) out.push(`  ERROR ${r.slots.error}`);
    else if (r.slots.value.slots.length === 0) out.push('  (none)');
    else
      out.push(
        indent(
          table(
            ['slot', 'active', 'retained WAL', 'unconfirmed WAL', 'wal_status'],
            r.slots.value.slots.map((x) => [
              x.slot,
              x.active ? 'yes' : 'NO',
              formatBytes(x.retainedBytes),
              formatBytes(x.confirmedFlushLagBytes),
              x.walStatus ?? '-',
            ]),
          ),
          2,
        ),
        `  (warning from ${formatBytes(r.slots.value.warnBytes)} retained, REPLICATION_SLOT_WARN_BYTES)`,
      );
  }
  if (r.heartbeat) {
    out.push('', "Heartbeat function (Odoo database, the connector's heartbeat.action.query)");
    if (!r.heartbeat.ok) out.push(`  ERROR ${r.heartbeat.error}`);
    else {
      const h = r.heartbeat.value;
      out.push(
        h.present
          ? `  ${h.fn}: present, ${h.securityDefiner ? 'SECURITY DEFINER' : 'NOT security definer'}, EXECUTE for ${h.role}: ${h.roleExists ? (h.canExecute ? 'yes' : 'NO') : 'no such role'}`
          : `  ${h.fn}: MISSING`,
      );
    }
  }
  out.push('', 'Ledger (intents by outcome)');
  out.push(
    r.ledger.ok
      ? `  ${
          Object.entries(r.ledger.value)
            .map(([k, v]) => `${k}=${v}`)
            .join('  ') || '(empty)'
        }`
      : `  ERROR ${r.ledger.error}`,
  );
  out.push('', 'Last errors');
  if (!r.lastErrors.ok) out.push(`  ERROR ${r.lastErrors.error}`);
  else if (r.lastErrors.value.length === 0) out.push('  (none)');
  else
    out.push(
      indent(
        table(
          ['at', 'stage', 'kind', 'aggregate / source', 'outcome', 'code', 'reason'],
          r.lastErrors.value.map((e) => [
            e.at,
            e.stage,
            e.kind ?? '-',
            e.aggregateKey,
            e.outcome,
            e.errorCode,
            (e.errorMessage ?? '').replace(/\s+/g, ' '),
          ]),
        ),
        2,
      ),
    );
  return `${out.join('\n')}\n`;
}

function indent(s: string, n: number): string {
  return s
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}
