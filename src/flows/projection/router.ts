/**
 * The router: Debezium change events → intents, re-keyed by customer (`partner:<id>`) onto the intents topic.
 *
 * It decodes (malformed → dead letter), keeps only changes of watched billing columns (the connector already drops
 * updates of unwatched columns; Odoo's several UPDATEs of one action reduce to the ones that change a watched
 * value), detects the intents with the pure trigger rules, and resolves the customer each intent belongs to so
 * that the projector sees every intent of one customer on one partition, in order.
 */
import {
  decodeParsedChange,
  DecodedChange,
  parseChangeValue,
  RowChange,
  tableOfTopic,
} from '../../domain/capture';
import { SyncError } from '../../domain/errors';
import { changedWatchedFields, isIrrelevant, rawIrrelevant } from '../../domain/projection/filter';
import { detectIntents } from '../../domain/projection/triggers';
import type { RoutingReader, TriggerContext } from '../../domain/intents/kind';
import { INTENTS } from '../../domain/intents/registry';
import { IntentMessage, intentIdOf } from '../../domain/intents/message';

export type { RoutingReader } from '../../domain/intents/kind';

export interface RouteResult {
  /** the decoded change; null when the raw fast path already knew it was irrelevant */
  change: DecodedChange | null;
  messages: IntentMessage[];
  /** why nothing was routed (for metrics: filtered) */
  filtered?: 'not-a-row' | 'irrelevant' | 'no-intent';
}

export async function routeMessage(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
  reader: RoutingReader,
  opts: { syncPartnerIdentity: boolean },
): Promise<RouteResult> {
  const parsed =
    value === null || value.length === 0 ? null : parseChangeValue(topic, partition, offset, value);
  if (parsed !== null && rawIrrelevant(tableOfTopic(topic), parsed))
    return { change: null, messages: [], filtered: 'irrelevant' };
  const change = decodeParsedChange(topic, partition, offset, key, parsed);
  if (change.kind === 'truncate') {
    throw new SyncError(
      'PROJECTION_REJECTED',
      `TRUNCATE of ${change.table} cannot be projected row by row; resync with an incremental snapshot ` +
        `(odoo-opencell-sync snapshot ${change.table})`,
      { details: { table: change.table } },
    );
  }
  if (change.kind !== 'row') return { change, messages: [], filtered: 'not-a-row' };
  if (isIrrelevant(change)) return { change, messages: [], filtered: 'irrelevant' };
  const fields = changedWatchedFields(change);
  const ctx = await triggerContext(change, reader, opts.syncPartnerIdentity);
  const intents = detectIntents(change, ctx, fields);
  if (intents.length === 0) return { change, messages: [], filtered: 'no-intent' };

  const source: IntentMessage['source'] = {
    table: change.table,
    op: change.op,
    rowId: rowIdOf(change),
    lsn: change.source.lsn,
    txId: change.source.txId,
    tsMs: change.source.tsMs,
    snapshot: change.source.isSnapshot,
    topic,
    partition,
    offset,
  };
  const messages: IntentMessage[] = [];
  let index = 0;
  for (const intent of intents) {
    for (const target of await INTENTS.spec(intent).targets(intent, reader)) {
      messages.push({
        v: 1,
        intentId: intentIdOf(source, intent, index++),
        aggregateKey: `partner:${target.partnerId}`,
        partnerId: target.partnerId,
        contractId: target.contractId,
        intent,
        force: undefined,
        repair: undefined,
        source,
      });
    }
  }
  return { change, messages, filtered: messages.length ? undefined : 'no-intent' };
}

function rowIdOf(change: RowChange): number | null {
  const row = (change.after ?? change.before) as Record<string, unknown> | null;
  const id = row?.id ?? row?.contract_contract_id;
  return typeof id === 'number' ? id : null;
}

async function triggerContext(
  change: RowChange,
  reader: RoutingReader,
  syncPartnerIdentity: boolean,
): Promise<TriggerContext> {
  const ctx: TriggerContext = { syncPartnerIdentity };
  if (change.table === 'contract_line') {
    const row = (change.after ?? change.before) as { product_id?: unknown } | null;
    const productId = typeof row?.product_id === 'number' ? row.product_id : null;
    const product = productId === null ? null : await reader.product(productId);
    ctx.product = (id) => (product && product.id === id ? product : undefined);
    if (reader.technologyServiceCategories)
      ctx.technologyServiceCategories = await reader.technologyServiceCategories();
  }
  if (change.table === 'res_partner' && change.after) {
    const id = (change.after as { id: number }).id;
    const has = await reader.partnerHasContracts(id);
    ctx.partnerHasContracts = (pid) => (pid === id ? has : false);
  }
  return ctx;
}
