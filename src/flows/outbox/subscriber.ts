/**
 * Subscribing to the sync and invoice events — what another service does: a consumer group on the topic, each
 * value decoded through the schema registry (writer schema by the id in the message) and validated with io-ts.
 * Delivery is at-least-once: dedupe by the `event_id` header (equal to `event.eventId`).
 *
 * Run as a command to tail the events:
 *   npx tsx src/flows/outbox/subscriber.ts [--topic t] [--from-beginning] [--json] [--group g]
 * Without --topic it tails both the sync events and the invoice events topics.
 */
import type { Consumer, Kafka, IHeaders } from 'kafkajs';
import { MalformedEventError, SyncError } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import { loadConfig } from '../../core/config';
import { createKafka } from '../../adapters/kafka/kafka';
import { EventSchemas, type DecodedEvent } from '../../adapters/registry/schemas';
import type { InvoiceIssuedEvent, SyncEvent } from '../../domain/outbox/events';

export interface EventMeta {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** the `event_id` header (equals event.eventId) */
  eventId: string | null;
  timestamp: string;
}

export interface SubscribeOptions {
  kafka: Kafka;
  /** decodes through the registry; any EventSchemas works (decoding needs only the registry URL) */
  registry: EventSchemas;
  topic: string | string[];
  groupId: string;
  fromBeginning?: boolean;
  onEvent(decoded: DecodedEvent, meta: EventMeta): Promise<void> | void;
  /** a message that does not decode; default: log it and go on (the offset is committed) */
  onMalformed?(err: MalformedEventError, meta: EventMeta): Promise<void> | void;
  /** default: the component logger 'event-subscriber' */
  log?: Logger;
}

export interface Subscription {
  consumer: Consumer;
  stop(): Promise<void>;
}

function header(headers: IHeaders | undefined, name: string): string | null {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? null : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

/**
 * Starts a consumer group on the event topic(s) and calls `onEvent` with every decoded event, in partition order.
 * A registry outage makes the handler throw, so kafkajs retries the message rather than skipping it.
 */
export async function subscribeEvents(opts: SubscribeOptions): Promise<Subscription> {
  const log = opts.log ?? componentLogger('event-subscriber');
  const consumer = opts.kafka.consumer({ groupId: opts.groupId });
  await consumer.connect();
  await consumer.subscribe({
    topics: Array.isArray(opts.topic) ? opts.topic : [opts.topic],
    fromBeginning: opts.fromBeginning ?? false,
  });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const meta: EventMeta = {
        topic,
        partition,
        offset: message.offset,
        key: message.key ? message.key.toString('utf8') : null,
        eventId: header(message.headers, 'event_id'),
        timestamp: message.timestamp,
      };
      if (!message.value) {
        const err = new MalformedEventError(
          topic,
          partition,
          message.offset,
          'value',
          'empty value (tombstone)',
        );
        if (opts.onMalformed) await opts.onMalformed(err, meta);
        else log.error(err.message);
        return;
      }
      let decoded: DecodedEvent;
      try {
        decoded = await opts.registry.decode(
          message.value,
          header(message.headers, 'event_type') ?? undefined,
          {
            topic,
            partition,
            offset: message.offset,
          },
        );
      } catch (e) {
        if (e instanceof MalformedEventError) {
          if (opts.onMalformed) await opts.onMalformed(e, meta);
          else log.error(e.message);
          return;
        }
        throw e;
      }
      await opts.onEvent(decoded, meta);
    },
  });
  return {
    consumer,
    stop: async () => {
      await consumer.disconnect();
    },
  };
}

/** One readable line per event. */
export function formatEventLine(d: DecodedEvent, meta: EventMeta): string {
  const at = new Date(d.event.occurredAt).toISOString();
  const pos = `${meta.topic}[${meta.partition}]@${meta.offset}`;
  if (d.type === 'SyncOutcome') {
    const e = d.event as SyncEvent;
    const err = e.errorCode ? ` ${e.errorCode}: ${e.errorMessage ?? ''}` : '';
    return (
      `${at} ${pos} ${e.outcome.toUpperCase()} ${e.action} ${e.odoo.model}#${e.odoo.id}${e.odoo.ref ? ` (${e.odoo.ref})` : ''}` +
      ` -> ${e.opencell.entity} ${e.opencell.code ?? '-'} calls=[${e.calls.join(',')}] attempt=${e.attempt}${err} id=${e.eventId}`
    );
  }
  const e = d.event as InvoiceIssuedEvent;
  return (
    `${at} ${pos} INVOICE ${e.invoiceNumber} ${e.invoiceDate} ${e.billingAccountCode} ${e.amountWithTax} ${e.currency}` +
    ` (${e.lines.length} lines) id=${e.eventId}`
  );
}

async function main(argv: string[]): Promise<void> {
  // Loaded here so that importing this module does not read the environment.
  const cfg = loadConfig(process.env, []);
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const topics = arg('--topic')
    ? [arg('--topic') as string]
    : [cfg.topics.syncEvents, cfg.topics.invoiceEvents];
  const json = argv.includes('--json');
  const registry = new EventSchemas({
    registryUrl: cfg.registryUrl,
    auth: cfg.registryAuth,
    ca: cfg.registryCa,
    topics: cfg.topics,
  });
  const kafka = createKafka(cfg.kafka, `${cfg.kafka.clientId}-subscriber`);
  const groupId = arg('--group') ?? `event-tail-${process.pid}-${Date.now()}`;
  const sub = await subscribeEvents({
    kafka,
    registry,
    topic: topics,
    groupId,
    fromBeginning: argv.includes('--from-beginning'),
    onEvent: (d, meta) => {
      process.stdout.write(
        `${json ? JSON.stringify({ type: d.type, topic: meta.topic, partition: meta.partition, offset: meta.offset, key: meta.key, event: d.event }) : formatEventLine(d, meta)}\n`,
      );
    },
  });
  componentLogger('event-subscriber').info(`tailing ${topics.join(', ')} (group ${groupId}); Ctrl-C to stop`);
  const shutdown = () => {
    sub.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    componentLogger('event-subscriber').error(e instanceof SyncError ? e.message : String(e));
    process.exit(1);
  });
}
