/** Intent messages about a contract, as the router publishes them, for the projector's unit tests. */
import type { IntentMessage } from '../../../src/domain/intents/message';
import type { ContractView } from '../../../src/domain/projection/views';

/**
 * A message carrying `intent` about `contract`, queued on its partner (or `over.partnerId`), from an update of its
 * `contract_contract` row at offset 0; `over.source` overrides the change's position.
 */
export function contractIntentMessage(
  contract: ContractView,
  intent: IntentMessage['intent'] | Record<string, unknown>,
  over: { intentId: string; partnerId?: number; source?: Partial<IntentMessage['source']> },
): IntentMessage {
  const partnerId = over.partnerId ?? contract.partner.id;
  return {
    v: 1,
    intentId: over.intentId,
    aggregateKey: `partner:${partnerId}`,
    partnerId,
    contractId: contract.id,
    intent,
    source: {
      table: 'contract_contract',
      op: 'u',
      rowId: contract.id,
      lsn: 1,
      txId: 1,
      tsMs: Date.now(),
      snapshot: false,
      topic: 't',
      partition: 0,
      offset: '0',
      ...over.source,
    },
  } as unknown as IntentMessage;
}
