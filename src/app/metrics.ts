/**
 * The pipeline's Prometheus metrics (prom-client), one registry per process, exposed on /metrics by http.ts.
 * Observers plug into the existing hooks: the projection pipeline's StageHooks (consumer events, routing),
 * OpenCellClient.onCall (latency by endpoint and outcome), the outbox relay's RelayMetrics; gauges (lag,
 * backlog) are sampled by the `run` command.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallEvent } from '../adapters/opencell/client';
import type { StageHooks } from '../flows/projection/stages';
import type { RelayMetrics } from '../flows/outbox/relay';
import type { InvoicePollResult } from '../flows/invoices/poller';
import type { KeyedConsumerEvent } from '../adapters/kafka/keyed-consumer';
import type { SlotHealth } from '../adapters/postgres/replication-slots';
import type { IntentMessage } from '../domain/intents/message';
import type { IntentResult } from '../adapters/postgres/ledger';
import { BlockedPartitions } from './blocked-partitions';
import type { ReadinessCheck } from './http';

export class Metrics {
  readonly registry = new Registry();
  readonly eventsConsumed: Counter<'table'>;
  readonly eventsFiltered: Counter<'table' | 'reason'>;
  readonly intentsRouted: Counter<'table'>;
  readonly intentsAlreadyFinished: Counter<'table'>;
  readonly messagesProcessed: Counter<'stage' | 'topic'>;
  readonly intentsProjected: Counter<'topic'>;
  readonly retries: Counter<'stage' | 'code'>;
  readonly deadLetters: Counter<'stage' | 'code'>;
  readonly deadLetterPublishFailures: Counter<'stage' | 'code'>;
  readonly pauses: Counter<'stage'>;
  /** partitions blocked now, per stage (docs/decisions/0009-outages-block.md) */
  readonly blocked = new BlockedPartitions();
  readonly blockedPartitions: Gauge<'stage'>;
  readonly blockedOldestAge: Gauge<'stage'>;
  readonly handlerSeconds: Histogram<'stage'>;
  readonly batchSeconds: Histogram<'stage'>;
  readonly opencellCalls: Histogram<'endpoint' | 'outcome'>;
  readonly freshness: Histogram<'origin' | 'outcome'>;
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  readonly outboxBacklog: Gauge;
  readonly outboxParked: Gauge;
  readonly outboxParkedRetries: Counter<'outcome'>;
  readonly outboxPublished: Counter<'topic'>;
  readonly relayErrors: Counter<'fatal'>;
  readonly invoiceLoads: Counter<'outcome'>;
  readonly invoicesUnnumbered: Gauge;
  readonly invoicesUnnumberedPastLookback: Counter;
  readonly slotRetainedWal: Gauge<'slot'>;
  readonly slotActive: Gauge<'slot'>;
  readonly slotFlushLag: Gauge<'slot'>;
  readonly slotWarnBytes: Gauge;

  constructor(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    const registers = [this.registry];
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics !== false)
      // prom-client's names already start with process_ / nodejs_: the prefix is only the service's own
      collectDefaultMetrics({ register: this.registry, prefix: 'sync_' });
    this.eventsConsumed = new Counter({
      name: 'sync_events_consumed_total',
      help: 'Change events read by the router, per source table',
      labelNames: ['table'],
      registers,
    });
    this.eventsFiltered = new Counter({
      name: 'sync_events_filtered_total',
      help: 'Change events that produced no intent, per table and reason',
      labelNames: ['table', 'reason'],
      registers,
    });
    this.intentsRouted = new Counter({
      name: 'sync_intents_routed_total',
      help: 'Intents derived by the router, per source table (a replay leaves out those the ledger has finished)',
      labelNames: ['table'],
      registers,
    });
    this.intentsAlreadyFinished = new Counter({
      name: 'sync_intents_already_finished_total',
      help: 'Intents a replay derived again and the router did not produce, the ledger having finished them',
      labelNames: ['table'],
      registers,
    });
    this.messagesProcessed = new Counter({
      name: 'sync_messages_processed_total',
      help: 'Messages finished by a stage (applied or skipped)',
      labelNames: ['stage', 'topic'],
      registers,
    });
    this.intentsProjected = new Counter({
      name: 'sync_intents_projected_total',
      help: 'Intents finished by the projector',
      labelNames: ['topic'],
      registers,
    });
    this.retries = new Counter({
      name: 'sync_retries_total',
      help: 'Retriable failures retried, per stage and error code',
      labelNames: ['stage', 'code'],
      registers,
    });
    this.deadLetterPublishFailures = new Counter({
      name: 'sync_dead_letter_publish_failures_total',
      help: 'Dead letters the dead-letter topic refused (the partition pauses and publishes them again), per stage and error code',
      labelNames: ['stage', 'code'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'sync_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, per stage and error code',
      labelNames: ['stage', 'code'],
      registers,
    });
    this.pauses = new Counter({
      name: 'sync_partition_pauses_total',
      help: 'Partitions paused for a long backoff',
      labelNames: ['stage'],
      registers,
    });
    const blocked = this.blocked;
    this.blockedPartitions = new Gauge({
      name: 'sync_blocked_partitions',
      help:
        'Partitions paused on a failure now, per stage: an outage (OpenCell or Odoo 5xx, 429, timeouts, unreachable; ' +
        'a database or Kafka down) is retried until it ends, and the partition waits',
      labelNames: ['stage'],
      registers,
      collect() {
        for (const stage of blocked.stages()) this.set({ stage }, blocked.list(stage).length);
      },
    });
    this.blockedOldestAge = new Gauge({
      name: 'sync_blocked_oldest_message_age_seconds',
      help: 'Age (since it was written to Kafka) of the oldest message a blocked partition waits on, per stage; 0 when none is blocked',
      labelNames: ['stage'],
      registers,
      collect() {
        for (const stage of blocked.stages()) this.set({ stage }, blocked.oldestMessageAgeSeconds(stage));
      },
    });
    this.handlerSeconds = new Histogram({
      name: 'sync_handler_duration_seconds',
      help: 'Time to process one message, per stage',
      labelNames: ['stage'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'sync_batch_duration_seconds',
      help: 'Time to finish one fetched batch of a partition, per stage (the next fetch waits for the slowest)',
      labelNames: ['stage'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.opencellCalls = new Histogram({
      name: 'sync_opencell_call_duration_seconds',
      help: 'OpenCell REST call latency, per endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.freshness = new Histogram({
      name: 'sync_e2e_freshness_seconds',
      help:
        'Odoo commit (source ts_ms of the change event) to the projector done with its OpenCell calls, per origin ' +
        '(change, snapshot, operator) and outcome (applied, skipped)',
      labelNames: ['origin', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'sync_consumer_lag',
      help: 'Messages not yet consumed, per group and partition (sampled)',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.outboxBacklog = new Gauge({
      name: 'sync_outbox_backlog',
      help: 'Outbox rows not yet published (sampled)',
      registers,
    });
    this.outboxParked = new Gauge({
      name: 'sync_outbox_parked',
      help: 'Unpublished outbox rows whose last publish failed (parked, tried again with backoff; sampled)',
      registers,
    });
    this.outboxParkedRetries = new Counter({
      name: 'sync_outbox_parked_retries_total',
      help: 'Parked outbox rows tried again: unparked (published next) or parked (still failing)',
      labelNames: ['outcome'],
      registers,
    });
    this.outboxPublished = new Counter({
      name: 'sync_outbox_published_total',
      help: 'Outbox rows published, per topic',
      labelNames: ['topic'],
      registers,
    });
    this.relayErrors = new Counter({
      name: 'sync_outbox_relay_errors_total',
      help: 'Failed relay cycles',
      labelNames: ['fatal'],
      registers,
    });
    this.invoiceLoads = new Counter({
      name: 'sync_invoice_loads_total',
      help: 'Invoices loaded into Odoo, per outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.invoicesUnnumbered = new Gauge({
      name: 'sync_invoice_poller_unnumbered',
      help: 'OpenCell invoices the last poll listed without a number (not validated yet); their dates are read again',
      registers,
    });
    this.invoicesUnnumberedPastLookback = new Counter({
      name: 'sync_invoice_poller_unnumbered_past_lookback_total',
      help: 'OpenCell invoices still without a number when their date left the poller verify days (no poll reads them again)',
      registers,
    });
    this.slotRetainedWal = new Gauge({
      name: 'sync_replication_slot_retained_wal_bytes',
      help: 'WAL the Odoo database server keeps for the replication slot (current WAL position - restart_lsn; sampled)',
      labelNames: ['slot'],
      registers,
    });
    this.slotActive = new Gauge({
      name: 'sync_replication_slot_active',
      help: 'Whether a connector reads the replication slot (1) or not (0) (sampled)',
      labelNames: ['slot'],
      registers,
    });
    this.slotFlushLag = new Gauge({
      name: 'sync_replication_slot_confirmed_flush_lag_bytes',
      help: 'WAL not yet confirmed by the connector (current WAL position - confirmed_flush_lsn; sampled)',
      labelNames: ['slot'],
      registers,
    });
    this.slotWarnBytes = new Gauge({
      name: 'sync_replication_slot_warn_bytes',
      help: 'Retained WAL from which the slot is a warning (REPLICATION_SLOT_WARN_BYTES); the alert compares with it',
      registers,
    });
  }

  /** Sets the slot gauges from one reading; a slot that disappeared is dropped. */
  observeSlots(slots: readonly SlotHealth[], warnBytes: number): void {
    this.slotWarnBytes.set(warnBytes);
    for (const g of [this.slotRetainedWal, this.slotActive, this.slotFlushLag]) g.reset();
    for (const s of slots) {
      this.slotRetainedWal.set({ slot: s.slot }, s.retainedBytes);
      this.slotActive.set({ slot: s.slot }, s.active ? 1 : 0);
      this.slotFlushLag.set({ slot: s.slot }, s.confirmedFlushLagBytes);
    }
  }

  /** Observer for OpenCellClient.onCall. */
  readonly onOpenCellCall = (e: CallEvent): void => {
    this.opencellCalls.observe({ endpoint: e.endpoint, outcome: e.outcome }, e.durationMs / 1000);
  };

  onConsumerEvent(stage: string, e: KeyedConsumerEvent): void {
    this.blocked.observe(stage, e);
    switch (e.type) {
      case 'skipped':
      case 'batch-handled':
        this.messagesProcessed.inc({ stage, topic: e.topic }, e.messages);
        // the projector's bulk path finishes replayed intents, which its handler counted one by one before
        if (e.type === 'batch-handled' && stage === 'projector')
          this.intentsProjected.inc({ topic: e.topic }, e.messages);
        break;
      case 'processed':
        this.messagesProcessed.inc({ stage, topic: e.topic });
        this.handlerSeconds.observe({ stage }, e.ms / 1000);
        if (stage === 'projector') this.intentsProjected.inc({ topic: e.topic });
        break;
      case 'retry':
        this.retries.inc({ stage, code: e.code });
        break;
      case 'dead-letter':
        if (!e.duplicate) this.deadLetters.inc({ stage, code: e.code });
        break;
      case 'dead-letter-failed':
        this.deadLetterPublishFailures.inc({ stage, code: e.code });
        break;
      case 'paused':
        this.pauses.inc({ stage });
        break;
      case 'batch':
        this.batchSeconds.observe({ stage }, e.ms / 1000);
        break;
    }
  }

  /**
   * The readiness check `blocked-partitions`: passes, degraded while a partition of this process is blocked, with
   * each one's stage, error code, time blocked and next try (src/app/blocked-partitions.ts).
   */
  blockedCheck(): ReadinessCheck {
    return async () => {
      const d = this.blocked.describe();
      return d === undefined ? 'none' : { degraded: d };
    };
  }

  /** StageHooks for ProjectionPipeline. */
  stageHooks(): StageHooks {
    return {
      onConsumerEvent: (stage, e) => this.onConsumerEvent(stage, e),
      onRouted: (table, routed, filtered, events = 1) => {
        this.eventsConsumed.inc({ table }, events);
        if (routed > 0) this.intentsRouted.inc({ table }, routed);
        if (filtered) this.eventsFiltered.inc({ table, reason: filtered }, events);
      },
      onAlreadyFinished: (table, intents) => this.intentsAlreadyFinished.inc({ table }, intents),
      onProjected: (msg, result) => this.observeFreshness(msg, result),
    };
  }

  /**
   * Freshness of one finished intent. Its source time is the Odoo commit for a change, the read for a snapshot, the
   * command for an operator's intent (src/flows/projection/operator-intents.ts).
   */
  observeFreshness(msg: IntentMessage, result: IntentResult, now = Date.now()): void {
    const origin = msg.source.op === 'ops' ? 'operator' : msg.source.op === 'r' ? 'snapshot' : 'change';
    this.freshness.observe({ origin, outcome: result.outcome }, Math.max(0, now - msg.source.tsMs) / 1000);
  }

  /** Observer for the invoice poller's onPoll. */
  readonly onInvoicePoll = (r: Pick<InvoicePollResult, 'unnumbered' | 'unnumberedPastLookback'>): void => {
    this.invoicesUnnumbered.set(r.unnumbered.length);
    if (r.unnumberedPastLookback.length > 0)
      this.invoicesUnnumberedPastLookback.inc(r.unnumberedPastLookback.length);
  };

  relayMetrics(): RelayMetrics {
    return {
      onBacklog: (n) => this.outboxBacklog.set(n),
      onParkedRetry: (_id, outcome) => this.outboxParkedRetries.inc({ outcome }),
      onPublished: (_count, byTopic) => {
        for (const [topic, n] of Object.entries(byTopic)) this.outboxPublished.inc({ topic }, n);
      },
      onError: (_err, fatal) => this.relayErrors.inc({ fatal: String(fatal) }),
    };
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
