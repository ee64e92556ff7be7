/**
 * The Avro schemas of the outbox events (schemas/avro/*.avsc) and their registration in the schema registry
 * (Apicurio's Confluent-compatible API) through @kafkajs/confluent-schema-registry.
 *
 * - Subjects follow TopicNameStrategy: `<topic>-value` is always passed explicitly (the client would otherwise
 *   derive `namespace.name`).
 * - Compatibility is BACKWARD. Before registering, the subject's level is read and, when the registry reports
 *   another level (Apicurio answers NONE for a subject created without a rule), set to BACKWARD, so the client's
 *   pre-check does not throw; then the new schema is tested against the latest version. A schema that breaks
 *   compatibility fails start-up with SyncError('SCHEMA_INCOMPATIBLE') naming the subject.
 * - Ids are resolved once and cached: encoding never calls the registry (the parsed schema is cached by id in the
 *   client). Decoding fetches a writer schema once per id.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import fetch, { type Response } from 'node-fetch';
import { basicAuthHeaders, credentialsRefused, type BasicAuth } from '../basic-auth';
import { httpsAgent, untrustedCertificate } from '../rest-tls';
import { isLeft } from 'fp-ts/Either';
import { MalformedEventError, SyncError } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import { packageRoot } from '../../core/package-root';
import {
  EVENT_CODECS,
  EventPayloads,
  OutboxEventType,
  isOutboxEventType,
  validatePayload,
} from '../../domain/outbox/codecs';

export * from '../../domain/outbox/codecs';

const AVRO_DIR = join(packageRoot(), 'schemas', 'avro');

export const SCHEMA_FILES: Record<OutboxEventType, string> = {
  SyncOutcome: 'sync-event.avsc',
  InvoiceIssued: 'invoice-event.avsc',
};

/** The raw Avro schema (parsed JSON) of one event type, read from schemas/avro. */
export function loadAvroSchema(type: OutboxEventType): Record<string, unknown> {
  return JSON.parse(readFileSync(join(AVRO_DIR, SCHEMA_FILES[type]), 'utf8')) as Record<string, unknown>;
}

export const subjectFor = (topic: string): string => `${topic}-value`;

export interface EventTopics {
  syncEvents: string;
  invoiceEvents: string;
}

export interface EventSchemasOptions {
  registryUrl: string;
  /** HTTP Basic credentials (config SCHEMA_REGISTRY_USERNAME/PASSWORD); none by default */
  auth?: BasicAuth | null;
  /** SCHEMA_REGISTRY_CA: the PEM certificates to trust for https (none: the system's) */
  ca?: string | null;
  topics: EventTopics;
  /** override the Avro schema of an event type (tests; schema evolution drills) */
  schemaOverrides?: Partial<Record<OutboxEventType, Record<string, unknown>>>;
  /** HTTP timeout for registry calls (default 5000 ms) */
  timeoutMs?: number;
  /** default: the component logger 'event-schemas' */
  log?: Logger;
}

export interface DecodedEvent<K extends OutboxEventType = OutboxEventType> {
  type: K;
  event: EventPayloads[K];
  schemaId: number;
}

/** Registry errors that are not about availability. */
function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Event schemas bound to one registry and one pair of topics. `register()` at start-up; `encode()` and `decode()`
 * on the hot path.
 */
export class EventSchemas {
  readonly registry: SchemaRegistry;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly ids = new Map<OutboxEventType, number>();
  private readonly topicOf: Record<OutboxEventType, string>;
  private pending: Promise<void> | undefined;

  private readonly log: Logger;

  constructor(readonly opts: EventSchemasOptions) {
    this.log = opts.log ?? componentLogger('event-schemas');
    this.baseUrl = opts.registryUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // One quick retry inside the client; the relay owns the longer backoff.
    this.registry = new SchemaRegistry({
      host: this.baseUrl,
      clientId: 'odoo-opencell-sync',
      ...(opts.auth ? { auth: { username: opts.auth.username, password: opts.auth.password } } : {}),
      ...(httpsAgent(this.baseUrl, opts.ca) ? { agent: httpsAgent(this.baseUrl, opts.ca) } : {}),
      retry: { retries: 1, maxRetryTimeInSecs: 2, initialRetryTimeInSecs: 0.2 },
    });
    this.topicOf = { SyncOutcome: opts.topics.syncEvents, InvoiceIssued: opts.topics.invoiceEvents };
  }

  topic(type: OutboxEventType): string {
    return this.topicOf[type];
  }

  schema(type: OutboxEventType): Record<string, unknown> {
    return this.opts.schemaOverrides?.[type] ?? loadAvroSchema(type);
  }

  /** true once both schemas have registry ids */
  get registered(): boolean {
    return this.ids.size === Object.keys(SCHEMA_FILES).length;
  }

  schemaId(type: OutboxEventType): number | undefined {
    return this.ids.get(type);
  }

  /**
   * Registers both schemas (idempotent: the same content returns the same id) and caches their ids.
   * Throws SyncError SCHEMA_INCOMPATIBLE (not retriable) when a schema breaks BACKWARD compatibility with the
   * subject's latest version, or a retriable SyncError NETWORK when the registry cannot be reached.
   */
  async register(): Promise<void> {
    if (this.registered) return;
    this.pending ??= (async () => {
      for (const type of Object.keys(SCHEMA_FILES) as OutboxEventType[]) {
        if (!this.ids.has(type)) this.ids.set(type, await this.registerOne(type));
      }
    })().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async registerOne(type: OutboxEventType): Promise<number> {
    const subject = subjectFor(this.topic(type));
    const schema = JSON.stringify(this.schema(type));
    const levelUnset = await this.ensureBackwardLevel(subject);
    const check = await this.http(
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
      {
        schema,
      },
    );
    if (check.status === 200 && (check.body as { is_compatible?: unknown }).is_compatible === false) {
      const messages = (check.body as { messages?: unknown }).messages;
      throw this.incompatible(
        subject,
        type,
        Array.isArray(messages) ? messages.map(String).join('; ') : 'not BACKWARD compatible',
      );
    }
    try {
      // the level of a new subject is set below, not by the client: see setBackwardLevel
      const { id } = await this.registry.register(
        { type: SchemaType.AVRO, schema },
        { subject, compatibility: COMPATIBILITY.BACKWARD, updateConfig: false },
      );
      if (levelUnset) await this.setBackwardLevel(subject);
      this.log.info(`schema ${SCHEMA_FILES[type]} registered under ${subject}`, { schemaId: id });
      return id;
    } catch (e) {
      const status = statusOf(e);
      if (status === 401 || status === 403) throw this.refused(status);
      const untrusted = this.untrusted(e);
      if (untrusted) throw untrusted;
      if (status === 409) throw this.incompatible(subject, type, (e as Error).message);
      if (status === 422) {
        throw new SyncError(
          'SCHEMA_INCOMPATIBLE',
          `registry refused ${SCHEMA_FILES[type]} under ${subject}: ${(e as Error).message}`,
          {
            cause: e,
            details: { subject },
          },
        );
      }
      if (e instanceof Error && e.name === 'ConfluentSchemaRegistryCompatibilityError') {
        throw new SyncError('SCHEMA_INCOMPATIBLE', `${subject}: ${e.message}`, {
          cause: e,
          details: { subject },
        });
      }
      throw new SyncError(
        'NETWORK',
        `schema registry unavailable registering ${subject}: ${(e as Error).message}`,
        {
          retriable: true,
          cause: e,
          details: { subject, status },
        },
      );
    }
  }

  private incompatible(subject: string, type: OutboxEventType, reason: string): SyncError {
    return new SyncError(
      'SCHEMA_INCOMPATIBLE',
      `schemas/avro/${SCHEMA_FILES[type]} is not BACKWARD compatible with the latest schema registered under ${subject}: ${reason}. ` +
        'Evolve the schema compatibly (new fields need defaults; never remove or retype a field) or use a new topic.',
      { details: { subject, schemaFile: SCHEMA_FILES[type] } },
    );
  }

  /**
   * Works around the client's compatibility pre-check (it refuses subjects whose level it does not know): make the
   * subject's level BACKWARD. True when the subject has no level yet (a first registration: set after it).
   */
  private async ensureBackwardLevel(subject: string): Promise<boolean> {
    const level = await this.levelOf(subject);
    if (level === undefined) return true;
    if (level === 'BACKWARD') return false;
    this.log.warn(`subject ${subject} has compatibility ${level || '(none)'}; setting BACKWARD`);
    await this.setBackwardLevel(subject);
    return false;
  }

  /** The subject's compatibility level ('' when the registry names none); undefined when it has none (404). */
  private async levelOf(subject: string): Promise<string | undefined> {
    const res = await this.http('GET', `/config/${encodeURIComponent(subject)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.unavailable(subject, `GET /config answered ${res.status}`);
    return String((res.body as { compatibilityLevel?: unknown }).compatibilityLevel ?? '').toUpperCase();
  }

  /**
   * Sets the subject's level to BACKWARD. Processes started together register a new subject at the same time: each
   * finds no level and sets it, and Apicurio refuses all but the first with 409 "A rule named 'COMPATIBILITY' already
   * exists" — which only means that another process set it: the level is read again then.
   */
  private async setBackwardLevel(subject: string): Promise<void> {
    const put = await this.http('PUT', `/config/${encodeURIComponent(subject)}`, {
      compatibility: 'BACKWARD',
    });
    if (put.status === 200) return;
    // the other process's level may not be readable yet: a few reads, 0.1 s apart
    for (let read = 0; put.status === 409 && read < 5; read++) {
      if ((await this.levelOf(subject)) === 'BACKWARD') return;
      await sleep(100);
    }
    throw this.unavailable(subject, `PUT /config answered ${put.status}`);
  }

  private refused(status: number): SyncError {
    return credentialsRefused(
      'the schema registry',
      new URL(this.baseUrl).origin,
      status,
      { username: 'SCHEMA_REGISTRY_USERNAME', password: 'SCHEMA_REGISTRY_PASSWORD' },
      this.opts.auth,
    );
  }

  /** A registry certificate this client does not trust: the error naming SCHEMA_REGISTRY_CA (else undefined). */
  private untrusted(e: unknown): SyncError | undefined {
    return untrustedCertificate(e, 'the schema registry', this.baseUrl, 'SCHEMA_REGISTRY_CA', this.opts.ca);
  }

  private unavailable(subject: string, reason: string, cause?: unknown): SyncError {
    return new SyncError('NETWORK', `schema registry unavailable (${subject}): ${reason}`, {
      retriable: true,
      cause,
      details: { subject, registryUrl: this.baseUrl },
    });
  }

  private async http(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          'Content-Type': 'application/vnd.schemaregistry.v1+json',
          Accept: 'application/vnd.schemaregistry.v1+json',
          ...basicAuthHeaders(this.opts.auth),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeout: this.timeoutMs,
        agent: httpsAgent(this.baseUrl, this.opts.ca),
      });
    } catch (e) {
      throw this.untrusted(e) ?? this.unavailable(path, (e as Error).message, e);
    }
    if (res.status === 401 || res.status === 403) throw this.refused(res.status);
    if (res.status >= 500) throw this.unavailable(path, `HTTP ${res.status}`);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { raw: text };
    }
    return { status: res.status, body: parsed };
  }

  /**
   * Avro-encodes a payload in the Confluent wire format with the cached id. Never calls the registry once
   * `register()` has succeeded. Throws MALFORMED_EVENT (not retriable) for a payload that does not match.
   */
  async encode(type: OutboxEventType, payload: unknown): Promise<Buffer> {
    await this.register();
    const id = this.ids.get(type);
    if (id === undefined) throw new SyncError('INTERNAL', `no schema id for ${type}`);
    const problems = validatePayload(type, payload);
    if (problems.length > 0) {
      throw new SyncError(
        'MALFORMED_EVENT',
        `${type} payload does not match its schema: ${problems.join('; ')}`,
        {
          details: { problems },
        },
      );
    }
    try {
      return await this.registry.encode(id, payload);
    } catch (e) {
      if (e instanceof Error && e.name === 'ConfluentSchemaRegistryValidationError') {
        throw new SyncError(
          'MALFORMED_EVENT',
          `${type} payload does not match ${SCHEMA_FILES[type]}: ${e.message}`,
          {
            cause: e,
            details: { paths: (e as { paths?: unknown }).paths },
          },
        );
      }
      throw e;
    }
  }

  /**
   * Decodes a message value through the registry (writer schema by the id in the message) and validates it with
   * the io-ts codec. The event type comes from the `event_type` header when given, else from the Avro record name.
   */
  async decode(
    value: Buffer,
    eventType?: string,
    where?: { topic: string; partition?: number; offset?: string },
  ): Promise<DecodedEvent> {
    const topic = where?.topic ?? '(unknown)';
    if (value.length < 5 || value[0] !== 0) {
      throw new MalformedEventError(
        topic,
        where?.partition,
        where?.offset,
        'value',
        'not in the Confluent Avro wire format',
      );
    }
    const schemaId = value.readInt32BE(1);
    let raw: unknown;
    let type: OutboxEventType | undefined = eventType && isOutboxEventType(eventType) ? eventType : undefined;
    try {
      raw = await this.registry.decode(value);
      if (!type) {
        const writer = (await this.registry.getSchema(schemaId)) as { name?: string };
        const name = String(writer.name ?? '');
        type = name.endsWith('InvoiceIssuedEvent')
          ? 'InvoiceIssued'
          : name.endsWith('SyncEvent')
            ? 'SyncOutcome'
            : undefined;
      }
    } catch (e) {
      const status = statusOf(e);
      // refused credentials while decoding: retried (the message stays on its partition, never dead-lettered), with
      // the message that names the settings
      if (status === 401 || status === 403)
        throw new SyncError('NETWORK', this.refused(status).message, { retriable: true, cause: e });
      // an untrusted certificate likewise: retried with the message that names SCHEMA_REGISTRY_CA
      const untrusted = this.untrusted(e);
      if (untrusted) throw new SyncError('NETWORK', untrusted.message, { retriable: true, cause: e });
      if (status === 404) {
        throw new MalformedEventError(
          topic,
          where?.partition,
          where?.offset,
          'value',
          `unknown schema id ${schemaId}`,
        );
      }
      if (statusOf(e) !== undefined || e instanceof TypeError) {
        throw new SyncError(
          'NETWORK',
          `schema registry unavailable decoding schema id ${schemaId}: ${(e as Error).message}`,
          {
            retriable: true,
            cause: e,
          },
        );
      }
      throw new MalformedEventError(topic, where?.partition, where?.offset, 'value', (e as Error).message);
    }
    if (!type)
      throw new MalformedEventError(
        topic,
        where?.partition,
        where?.offset,
        'event_type',
        'unknown event type',
      );
    // avsc returns record-class instances; hand out plain objects
    const plain = structuredClone(raw);
    const r = EVENT_CODECS[type].decode(plain);
    if (isLeft(r)) {
      throw new MalformedEventError(
        topic,
        where?.partition,
        where?.offset,
        'value',
        validatePayload(type, plain).join('; '),
      );
    }
    return { type, event: r.right as EventPayloads[typeof type], schemaId };
  }
}
