/**
 * An in-memory ledger (the projector's LedgerPort) for unit tests that drive the projector without PostgreSQL:
 * finished intents, effect rows with their write-ahead state, and the results it was asked to record.
 */
import { randomUUID } from 'node:crypto';
import {
  chargeCodeOf,
  type IntentResult,
  type LedgerIntentMessage,
  type LedgerPort,
} from '../src/adapters/postgres/ledger';
import type { SyncEvent } from '../src/domain/outbox/events';
import type { OcOperation } from '../src/domain/projection/plan';

interface EffectRow {
  intentId: string;
  op: string;
  outcome: 'pending' | 'applied' | 'already_present';
  subscription: string | null;
  chargeCode: string | null;
}

export class InMemoryLedger implements LedgerPort {
  readonly effects = new Map<string, EffectRow>();
  readonly finished: { msg: LedgerIntentMessage; result: IntentResult }[] = [];

  /** Unfenced: one instance (the fencing itself is tested on PostgreSQL). */
  async checkFence(): Promise<void> {}

  async finishedAmong(intentIds: readonly string[]): Promise<Set<string>> {
    const asked = new Set(intentIds);
    return new Set(
      this.finished
        .filter(
          (f) =>
            asked.has(f.msg.intentId) && (f.result.outcome === 'applied' || f.result.outcome === 'skipped'),
        )
        .map((f) => f.msg.intentId),
    );
  }

  async isFinished(intentId: string): Promise<boolean> {
    return this.finished.some(
      (f) =>
        f.msg.intentId === intentId && (f.result.outcome === 'applied' || f.result.outcome === 'skipped'),
    );
  }

  async appliedEffects(keys: string[]): Promise<Set<string>> {
    return new Set(keys.filter((k) => (this.effects.get(k)?.outcome ?? 'pending') !== 'pending'));
  }

  async hasEffect(key: string): Promise<boolean> {
    return (await this.appliedEffects([key])).has(key);
  }

  async recordedEffects(keys: readonly string[]): Promise<Map<string, string>> {
    return new Map(
      keys.flatMap((k) => {
        const e = this.effects.get(k);
        return e ? [[k, e.intentId] as [string, string]] : [];
      }),
    );
  }

  async recordEffect(
    intentId: string,
    op: OcOperation,
    outcome: 'applied' | 'already_present',
  ): Promise<void> {
    const prev = this.effects.get(op.key);
    if (prev && prev.outcome !== 'pending') return;
    this.effects.set(op.key, { ...rowOf(intentId, op), outcome });
  }

  async beginEffect(intentId: string, op: OcOperation): Promise<'first' | 'tried' | 'done'> {
    const prev = this.effects.get(op.key);
    if (!prev) {
      this.effects.set(op.key, { ...rowOf(intentId, op), outcome: 'pending' });
      return 'first';
    }
    return prev.outcome === 'pending' ? 'tried' : 'done';
  }

  async accountedOneShots(subscriptionCode: string, chargeCode: string, exceptKey: string): Promise<number> {
    return [...this.effects.entries()].filter(
      ([k, e]) =>
        k !== exceptKey &&
        e.subscription === subscriptionCode &&
        e.chargeCode === chargeCode &&
        e.outcome !== 'pending',
    ).length;
  }

  async finish(msg: LedgerIntentMessage, result: IntentResult): Promise<SyncEvent> {
    this.finished.push({ msg, result });
    return {
      eventId: randomUUID(),
      occurredAt: Date.now(),
      source: {
        table: msg.source.table,
        lsn: msg.source.lsn,
        txId: msg.source.txId,
        topic: msg.source.topic,
        partition: msg.source.partition,
        offset: msg.source.offset,
      },
      odoo: { ...result.odooRecord, ref: result.odooRef },
      opencell: result.opencell,
      action: msg.intent.kind,
      outcome: result.outcome,
      calls: result.calls,
      errorCode: result.errorCode ?? null,
      errorMessage: result.errorMessage ?? null,
      attempt: result.attempt,
    };
  }
}

function rowOf(intentId: string, op: OcOperation): Omit<EffectRow, 'outcome'> {
  const b = op.body as unknown as Record<string, unknown>;
  return {
    intentId,
    op: op.op,
    subscription: typeof b.subscription === 'string' ? b.subscription : null,
    chargeCode: chargeCodeOf(op),
  };
}
