/**
 * Wiring of the invoice flow OpenCell → Odoo (thin adapters around poller.ts and loader.ts):
 * - `startInvoicePoller`: the poller on the production OpenCell client, appending InvoiceIssued outbox rows (the
 *   outbox relay publishes them to config.topics.invoiceEvents);
 * - `createInvoiceLoader`: consumer group `invoice-loader` on the invoice events topic (keyed consumer: per-key
 *   order, contiguous commits, retry with backoff, dead-letter topic with the reason, partitions fenced) creating the
 *   invoices in Odoo through the production JSON-RPC client, in batches.
 */
import { hostname } from 'node:os';
import type { Kafka, Producer } from 'kafkajs';
import { orderedWholeRetryProducer } from '../../adapters/kafka/whole-retry-producer';
import type { Pool } from 'pg';
import type { Config } from '../../core/config';
import { componentLogger, redactString, type Logger } from '../../core/log';
import { OdooClient } from '../../adapters/odoo/client';
import { OpenCellClient } from '../../adapters/opencell/client';
import { EventSchemas } from '../../adapters/registry/schemas';
import { KafkaDeadLetterPublisher } from '../../adapters/kafka/dlq';
import { PgDeadLetterIndex } from '../../adapters/postgres/dead-letter-index';
import { PgPartitionFence, type PartitionFence } from '../../adapters/postgres/fence';
import { ensureTopics } from '../../adapters/kafka/kafka';
import { KeyedConsumer, type KeyedConsumerEvent } from '../../adapters/kafka/keyed-consumer';
import type { RetryPolicy } from '../../adapters/kafka/retry';
import { INVOICE_LOADER_GROUP, InvoiceLoader, type LoadOutcome, type OdooRpc } from './loader';
import { InvoicePoller, type InvoicePollerOptions, type InvoiceSource } from './poller';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';

export type InvoiceConfig = Pick<
  Config,
  'kafka' | 'registryUrl' | 'topics' | 'opencell' | 'odoo' | 'retry' | 'invoicePoll' | 'invoiceImport'
> &
  Partial<Pick<Config, 'registryAuth' | 'registryCa' | 'fenceLeaseMs'>>;

export function invoiceRetryPolicy(config: Pick<Config, 'retry'>): RetryPolicy {
  return {
    initialMs: config.retry.initialMs,
    maxMs: config.retry.maxMs,
    multiplier: 2,
    maxAttempts: config.retry.maxAttempts,
    giveUpAfterMs: config.retry.giveUpAfterMs,
    jitter: 0.5,
  };
}

/** Creates the invoice events topic and the dead-letter topic when missing. */
export async function ensureInvoiceTopics(
  kafka: Kafka,
  config: Pick<Config, 'topics'> & { kafka: Pick<Config['kafka'], 'replication'> },
  partitions = 3,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      [
        { topic: config.topics.invoiceEvents, numPartitions: partitions },
        { topic: config.topics.dlq, numPartitions: 1 },
      ],
      config.kafka.replication,
    );
  } finally {
    await admin.disconnect();
  }
}

export interface InvoicePollerDeps {
  /** state database */
  pool: Pool;
  /** default: a production OpenCellClient on config.opencell */
  opencell?: InvoiceSource;
  /** poller options (name, startDate, now, …; they win over config.invoicePoll) */
  options?: Omit<InvoicePollerOptions, 'pool' | 'opencell' | 'topic'>;
  /** false: do not start the interval (call pollOnce yourself) */
  autoStart?: boolean;
}

/** The poller, started on its interval unless `autoStart: false`. */
export function startInvoicePoller(config: InvoiceConfig, deps: InvoicePollerDeps): InvoicePoller {
  const poller = new InvoicePoller({
    lookbackDays: config.invoicePoll.lookbackDays,
    verifyDays: config.invoicePoll.verifyDays,
    pageSize: config.invoicePoll.pageSize,
    intervalMs: config.invoicePoll.intervalMs,
    ...deps.options,
    pool: deps.pool,
    opencell: deps.opencell ?? new OpenCellClient(config.opencell),
    topic: config.topics.invoiceEvents,
  });
  if (deps.autoStart !== false) poller.start();
  return poller;
}

export interface InvoiceLoaderDeps {
  kafka: Kafka;
  /** state database (processed_event) */
  pool: Pool;
  /** producer for the dead-letter topic (idempotent recommended); default: one created and connected on start */
  producer?: Producer;
  /** default: a production OdooClient on config.odoo */
  odoo?: OdooRpc;
  /** default: EventSchemas on config.registryUrl and config.topics */
  schemas?: EventSchemas;
  groupId?: string;
  /** processed_event consumer name (default: the group id) */
  consumer?: string;
  /** XML id of the invoice journal (default invoice_somconnexio.customer_services_invoices_journal) */
  journalXmlId?: string;
  /**
   * invoices handled at once per partition, across keys (default config.invoiceImport.loadConcurrency, 300): the
   * loader gathers them into batches of up to `maxBatch` (one account.move create per batch), so this bounds the batch
   * size per partition, and partitions × concurrency ÷ maxBatch the creates in flight
   */
  concurrency?: number;
  /** most invoices per account.move create (default config.invoiceImport.loadBatch, 200) */
  maxBatch?: number;
  /** most account.move creates in flight (default config.invoiceImport.loadInFlight, 4) */
  maxInFlight?: number;
  /** partition fencing (default: PgPartitionFence on the state database, as host/pid) */
  fence?: PartitionFence;
  onConsumerEvent?: (e: KeyedConsumerEvent) => void;
  onLoaded?: (event: InvoiceIssuedEvent, r: LoadOutcome) => void;
  /** default: the component logger 'invoice-loader' */
  log?: Logger;
}

export interface InvoiceLoaderStage {
  loader: InvoiceLoader;
  consumer: KeyedConsumer;
  groupId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The Odoo-loading consumer (not started: call `start()`). */
export function createInvoiceLoader(config: InvoiceConfig, deps: InvoiceLoaderDeps): InvoiceLoaderStage {
  const log = deps.log ?? componentLogger('invoice-loader');
  const groupId = deps.groupId ?? INVOICE_LOADER_GROUP;
  const ownOdoo = deps.odoo ? undefined : new OdooClient(config.odoo);
  const schemas =
    deps.schemas ??
    new EventSchemas({
      registryUrl: config.registryUrl,
      auth: config.registryAuth,
      ca: config.registryCa,
      topics: config.topics,
    });
  const loader = new InvoiceLoader({
    odoo: deps.odoo ?? ownOdoo!,
    pool: deps.pool,
    schemas,
    consumer: deps.consumer ?? groupId,
    journalXmlId: deps.journalXmlId,
    rules: {
      partnerByRef: config.invoiceImport.partnerByRef,
      creditNoteTypes: config.invoiceImport.creditNoteTypes,
    },
    odooRequestLimitMs: config.invoiceImport.odooRequestLimitMs,
    onLoaded: deps.onLoaded,
    maxBatch: deps.maxBatch ?? config.invoiceImport.loadBatch,
    maxInFlight: deps.maxInFlight ?? config.invoiceImport.loadInFlight,
  });
  const producer = deps.producer ?? orderedWholeRetryProducer(deps.kafka);
  const consumer = new KeyedConsumer({
    kafka: deps.kafka,
    groupId,
    topics: [config.topics.invoiceEvents],
    stage: 'invoice-loader',
    concurrency: deps.concurrency ?? config.invoiceImport.loadConcurrency ?? 300,
    // issue 15 §2: a loader whose partition moved to another instance creates nothing in Odoo (loader.ts)
    fence:
      deps.fence ??
      new PgPartitionFence(deps.pool, groupId, `${hostname()}/${process.pid}`, config.fenceLeaseMs),
    retry: invoiceRetryPolicy(config),
    deadLetters: new KafkaDeadLetterPublisher(
      producer,
      config.topics.dlq,
      undefined,
      new PgDeadLetterIndex(deps.pool),
    ),
    onEvent: deps.onConsumerEvent,
    handler: (message, ctx) => loader.handleMessage(message, ctx),
    onDeadLettered: async (message, _ctx, err) => {
      log.info(`invoice event dead-lettered: ${redactString((err as Error).message)}`, {
        key: message.key?.toString('utf8'),
        offset: message.offset,
      });
    },
  });
  return {
    loader,
    consumer,
    groupId,
    async start() {
      if (!deps.producer) await producer.connect();
      await consumer.start();
    },
    async stop() {
      await consumer.stop();
      if (!deps.producer) await producer.disconnect();
      ownOdoo?.close();
    },
  };
}
