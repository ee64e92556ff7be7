import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../domain/errors';
import { registerSecret } from './log';

/**
 * The one config module. Settings come from the environment (and, optionally, a JSON file named by
 * SYNC_CONFIG_FILE whose keys are the same env-variable names). Every setting is validated with io-ts and
 * every problem is reported at once. Defaults match the local stack started by `scripts/stack up`.
 */

/**
 * A URL's password never appears in an error: `scheme://user:secret@host` → `scheme://user:[redacted]@host`, also
 * in the malformed URLs a configuration error is about — the scheme left out or mistyped (`sync:secret@db/odoo`,
 * `postgres:/sync:secret@db`), an unencoded `@` in the password (everything up to the last `@` is hidden).
 */
export function maskUrlCredentials(s: string): string {
  return s.replace(/\S+/g, (token) => {
    if (!token.includes('@')) return token;
    return token.includes('//')
      ? token.replace(/^(.*?\/\/[^:/@]*):.*@/, '$1:[redacted]@')
      : token.replace(/^([^:@]*):.*@/, '$1:[redacted]@');
  });
}

/** The role and password of a postgres:// URL (percent-decoded; empty when absent). */
export function pgUrlCredentials(url: string): { user: string; password: string } {
  try {
    const u = new URL(url);
    return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } catch {
    return { user: '', password: '' };
  }
}

const NonEmpty = new t.Type<string, string, unknown>(
  'NonEmptyString',
  (u): u is string => typeof u === 'string' && u.length > 0,
  (u, c) =>
    typeof u === 'string' && u.trim().length > 0 ? t.success(u.trim()) : t.failure(u, c, 'must not be empty'),
  t.identity,
);
const Url = new t.Type<string, string, unknown>(
  'Url',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'must be a URL');
    try {
      const parsed = new URL(u);
      if (!/^https?:$/.test(parsed.protocol)) return t.failure(u, c, 'must be an http(s) URL');
      return t.success(u.replace(/\/+$/, ''));
    } catch {
      return t.failure(u, c, `"${maskUrlCredentials(u)}" is not a URL`);
    }
  },
  t.identity,
);
const PgUrl = new t.Type<string, string, unknown>(
  'PostgresUrl',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^postgres(ql)?:\/\//.test(u)
      ? t.success(u)
      : t.failure(u, c, 'must be a postgres:// URL'),
  t.identity,
);
const IntFromEnv = (min: number, max: number) =>
  new t.Type<number, string, unknown>(
    `Int[${min}..${max}]`,
    (u): u is number => typeof u === 'number',
    (u, c) => {
      const n =
        typeof u === 'number' ? u : typeof u === 'string' && /^-?\d+$/.test(u.trim()) ? Number(u) : NaN;
      return Number.isInteger(n) && n >= min && n <= max
        ? t.success(n)
        : t.failure(u, c, `must be an integer from ${min} to ${max}`);
    },
    String,
  );
const BoolFromEnv = new t.Type<boolean, string, unknown>(
  'Boolean',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => {
    if (typeof u === 'boolean') return t.success(u);
    if (typeof u === 'string' && /^(1|true|yes|on)$/i.test(u)) return t.success(true);
    if (typeof u === 'string' && /^(0|false|no|off)$/i.test(u)) return t.success(false);
    return t.failure(u, c, 'must be true or false');
  },
  String,
);
/** `auto` (decided at run time), or an integer from `min` to `max`. */
const AutoOrInt = (min: number, max: number) =>
  new t.Type<number | 'auto', string, unknown>(
    `auto|Int[${min}..${max}]`,
    (u): u is number | 'auto' => u === 'auto' || typeof u === 'number',
    (u, c) => {
      if (typeof u === 'string' && u.trim().toLowerCase() === 'auto') return t.success('auto');
      const n = typeof u === 'number' ? u : typeof u === 'string' && /^\d+$/.test(u.trim()) ? Number(u) : NaN;
      return Number.isInteger(n) && n >= min && n <= max
        ? t.success(n)
        : t.failure(u, c, `must be auto or an integer from ${min} to ${max}`);
    },
    String,
  );
/** A PostgreSQL replication slot name, or empty (keep the connector file's). */
const SlotNameOrEmpty = new t.Type<string, string, unknown>(
  'SlotNameOrEmpty',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^([a-z0-9_]{1,63})?$/.test(u.trim())
      ? t.success(u.trim())
      : t.failure(u, c, 'must be lower-case letters, digits and _ (at most 63), or empty'),
  t.identity,
);
/** The original's defaults of its two ir.config_parameter keys (original-module.md §1.2). */
export const DEFAULT_OPENCELL_SELLER = 'SC';
export const DEFAULT_OPENCELL_CUSTOMER_CATEGORY = 'CLIENT';

/** Any string, empty allowed (an optional setting; trimmed). */
const OptionalString = new t.Type<string, string, unknown>(
  'OptionalString',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' ? t.success(u.trim()) : t.failure(u, c, 'must be a string')),
  t.identity,
);
const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = Exclude<(typeof SASL_MECHANISMS)[number], 'none'>;
const SaslMechanismOrNone = new t.Type<(typeof SASL_MECHANISMS)[number], string, unknown>(
  'SaslMechanism',
  (u): u is (typeof SASL_MECHANISMS)[number] => SASL_MECHANISMS.includes(u as SaslMechanism),
  (u, c) => {
    const v = typeof u === 'string' ? u.trim().toLowerCase() : u;
    return SASL_MECHANISMS.includes(v as SaslMechanism)
      ? t.success(v as (typeof SASL_MECHANISMS)[number])
      : t.failure(u, c, `must be one of ${SASL_MECHANISMS.join(', ')}`);
  },
  t.identity,
);
/** A day `YYYY-MM-DD`, or off: empty / `off` / `false` → null. */
const IsoDayOrOff = new t.Type<string | null, string, unknown>(
  'IsoDayOrOff',
  (u): u is string | null => u === null || typeof u === 'string',
  (u, c) => {
    if (u === null || (typeof u === 'string' && /^(|off|false|no|0)$/i.test(u.trim())))
      return t.success(null);
    if (typeof u === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(u.trim())) {
      const day = u.trim();
      const ms = Date.parse(`${day}T00:00:00Z`);
      if (!Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day) return t.success(day);
    }
    return t.failure(u, c, 'must be a day YYYY-MM-DD, or empty / off');
  },
  (a) => a ?? '',
);
/** An Odoo language code: `ca_ES`, `es_ES`, `en_US`, `sr@latin`. */
const OdooLang = new t.Type<string, string, unknown>(
  'OdooLang',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?$/.test(u.trim())
      ? t.success(u.trim())
      : t.failure(u, c, 'must be an Odoo language code such as ca_ES, es_ES or en_US'),
  t.identity,
);
const CsvList = new t.Type<string[], string, unknown>(
  'CommaSeparatedList',
  (u): u is string[] => Array.isArray(u),
  (u, c) =>
    typeof u === 'string' && u.split(',').filter((s) => s.trim()).length > 0
      ? t.success(
          u
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        )
      : t.failure(u, c, 'must be a comma-separated list'),
  (a) => a.join(','),
);

/** env name → [codec, default]. `undefined` default = required. */
const SPEC = {
  KAFKA_BROKERS: [CsvList, '127.0.0.1:9092'],
  KAFKA_CLIENT_ID: [NonEmpty, 'odoo-opencell-sync'],
  // Replicas and min.insync.replicas of the topics the pipeline and the connector create; `auto`: from the cluster's
  // size, at most 3 replicas, 2 in sync when there are at least 2 (issue 15 §9, docs/operations.md "Replication").
  KAFKA_REPLICATION_FACTOR: [AutoOrInt(1, 16), 'auto'],
  KAFKA_MIN_INSYNC_REPLICAS: [AutoOrInt(1, 16), 'auto'],
  // Every Kafka client of the pipeline (issue 16, docs/operations.md "Kafka security"): TLS, trusting the CA(s) of
  // the PEM file KAFKA_SSL_CA (empty: the system's), and SASL authentication; the password is a secret.
  KAFKA_SSL: [BoolFromEnv, 'false'],
  KAFKA_SSL_CA: [OptionalString, ''],
  KAFKA_SASL_MECHANISM: [SaslMechanismOrNone, 'none'],
  KAFKA_SASL_USERNAME: [OptionalString, ''],
  KAFKA_SASL_PASSWORD: [OptionalString, ''],
  SCHEMA_REGISTRY_URL: [Url, 'http://127.0.0.1:8081/apis/ccompat/v7'],
  CONNECT_URL: [Url, 'http://127.0.0.1:8083'],
  // HTTP Basic credentials of the registry and of Kafka Connect's REST API (issue 16; empty: none sent); the
  // passwords are secrets.
  SCHEMA_REGISTRY_USERNAME: [OptionalString, ''],
  SCHEMA_REGISTRY_PASSWORD: [OptionalString, ''],
  CONNECT_USERNAME: [OptionalString, ''],
  CONNECT_PASSWORD: [OptionalString, ''],
  // Their HTTPS behind a private CA: a PEM file of the CA(s) to trust instead of the system's (empty: the system's;
  // docs/operations.md "Kafka security").
  SCHEMA_REGISTRY_CA: [OptionalString, ''],
  CONNECT_CA: [OptionalString, ''],
  // The pipeline reads Odoo as a read-only role (SELECT on the captured tables, created by src/app/pg-setup.ts on the
  // local stack; README "Database roles"), never as the owner `odoo`.
  ODOO_DATABASE_URL: [PgUrl, 'postgresql://sync_reader:sync_reader@127.0.0.1:5432/odoo'],
  // `snapshot` only: the role that may insert the signal row Debezium reads (INSERT on debezium_signal, nothing else).
  ODOO_SIGNAL_DATABASE_URL: [PgUrl, 'postgresql://sync_ops:sync_ops@127.0.0.1:5432/odoo'],
  // The replication slot the connector uses (empty: connectors/odoo-billing.json's); one per Connect cluster.
  DEBEZIUM_SLOT_NAME: [SlotNameOrEmpty, ''],
  // The connector's database role (the variable Kafka Connect resolves `database.user` from): `status` checks that it
  // may execute the heartbeat function of `heartbeat.action.query`.
  DEBEZIUM_DB_USER: [NonEmpty, 'debezium'],
  STATE_DATABASE_URL: [PgUrl, 'postgresql://sync@127.0.0.1:5432/odoo_opencell_sync'],
  // Connections per pool (each router or projector role has one to Odoo's database and one to the state database):
  // auto = OPENCELL_CONCURRENCY + 4, from 8 to 64. N processes need up to 2 × N × this many of the server's
  // max_connections: lower it when scaling out (docs/operations.md "Scaling out").
  PG_POOL_MAX: [AutoOrInt(1, 256), 'auto'],
  // How long a fencing check is trusted for the OpenCell or Odoo call after it, in ms (src/core/call-lease.ts); a
  // partition's new owner waits this long (+ 250 ms) after taking it from another. 0 = no lease (not recommended).
  FENCE_LEASE_MS: [IntFromEnv(0, 60_000), '2000'],
  TOPIC_PREFIX: [NonEmpty, 'odoo'],
  DLQ_TOPIC: [NonEmpty, 'sync.dead-letter'],
  INTENTS_TOPIC: [NonEmpty, 'sync.intents'],
  INTENTS_PARTITIONS: [IntFromEnv(1, 256), '6'],
  SYNC_EVENTS_TOPIC: [NonEmpty, 'sync.events'],
  INVOICE_EVENTS_TOPIC: [NonEmpty, 'billing.invoice-events'],
  OPENCELL_BASEURL: [Url, 'http://127.0.0.1:8070/opencell'],
  OPENCELL_USER: [NonEmpty, 'opencell.superadmin'],
  OPENCELL_PASSWORD: [NonEmpty, undefined],
  OPENCELL_TIMEOUT_MS: [IntFromEnv(100, 120_000), '10000'],
  OPENCELL_CONCURRENCY: [IntFromEnv(1, 256), '16'],
  // Empty: read from Odoo's ir.config_parameter as the original does (opencell_somconnexio.opencell_seller_code,
  // opencell_somconnexio.opencell_customer_category_code), else its defaults SC / CLIENT (docs/parity.md K-config).
  OPENCELL_SELLER: [OptionalString, ''],
  OPENCELL_CUSTOMER_CATEGORY: [OptionalString, ''],
  // The original hard-codes CLIENT in the CRM account hierarchy (docs/parity.md P-crm-category); opt-in sends the
  // configured category there too.
  OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY: [BoolFromEnv, 'false'],
  // The original sent any stored IBAN (docs/parity.md P-iban-check); opt-in refuses one failing its check digits.
  REFUSE_INVALID_IBAN: [BoolFromEnv, 'false'],
  // The original's account owner is "firstname lastname" with Python's "False" for an empty part (docs/parity.md
  // P-payment); opt-in joins the parts present and falls back to the partner's name.
  ACCOUNT_OWNER_NAME_FALLBACK: [BoolFromEnv, 'false'],
  // The original's force-create (W4) sent no lines, their own jobs were re-queued (docs/parity.md W4); opt-in sends
  // the contract's current service lines and one-shots with the forced creation.
  FORCE_CREATE_WITH_LINES: [BoolFromEnv, 'false'],
  // The original sent Odoo's "-" phone placeholder as a number: access code, subscription description, T7
  // (docs/parity.md T7, P-access); opt-in makes "-" no number, like an empty one.
  PHONE_PLACEHOLDER_IS_NO_NUMBER: [BoolFromEnv, 'false'],
  // Invoice poller (docs/operations.md "Invoice poller"): days every poll reads again, page size, interval.
  INVOICE_POLL_LOOKBACK_DAYS: [IntFromEnv(0, 366), '3'],
  INVOICE_POLL_VERIFY_DAYS: [IntFromEnv(0, 366), '35'],
  INVOICE_POLL_PAGE_SIZE: [IntFromEnv(1, 1000), '100'],
  INVOICE_POLL_INTERVAL_MS: [IntFromEnv(1000, 86_400_000), '60000'],
  // Behaviour beyond the original module: opt-in, off by default (docs/parity.md, README "Behaviour settings").
  SYNC_PARTNER_IDENTITY: [BoolFromEnv, 'false'],
  SYNC_EMAIL_IBAN_AT_CREATION: [BoolFromEnv, 'false'],
  SYNC_TERMINATION_AT_CREATION: [BoolFromEnv, 'false'],
  // Terminations dated in the future wait for their day, as the original's queue_job ETAs (docs/operations.md
  // "Held terminations"); the scheduler role releases them. The clock offset moves the scheduler's clock (tests).
  HOLD_TERMINATIONS: [BoolFromEnv, 'true'],
  HELD_INTENTS_POLL_MS: [IntFromEnv(100, 3_600_000), '30000'],
  HELD_INTENTS_CLOCK_OFFSET_MS: [IntFromEnv(0, 400 * 86_400_000), '0'],
  // Snapshot reads never re-charge one-shots unless an operator sets a cut-off day (docs/operations.md "Snapshots").
  SNAPSHOT_ONE_SHOTS_SINCE: [IsoDayOrOff, ''],
  ODOO_URL: [Url, 'http://127.0.0.1:8069'],
  ODOO_DB: [NonEmpty, 'odoo'],
  ODOO_USER: [NonEmpty, 'billing-bot'],
  ODOO_PASSWORD: [NonEmpty, undefined],
  // Translated names (Odoo 16 jsonb, e.g. product_template.name) are read in this language, then en_US: the original's
  // jobs read them in their context language, the enqueuing user's (queue_job keeps `lang`); Som Connexió's is ca_ES.
  ODOO_LANG: [OdooLang, 'ca_ES'],
  // Invoice import (docs/parity.md §7). The partner-by-ref rule is the Odoo 12 one: opt-in, off by default.
  INVOICE_PARTNER_BY_REF: [BoolFromEnv, 'false'],
  // OpenCell invoice types loaded as credit notes (out_refund); OpenCell's default adjustment type is ADJ.
  INVOICE_CREDIT_NOTE_TYPES: [CsvList, 'ADJ'],
  // Odoo's limit_time_real (default 120 s): a create whose answer was lost is only sent again once it has had this
  // long to commit and still is not in Odoo.
  ODOO_REQUEST_LIMIT_MS: [IntFromEnv(0, 3_600_000), '120000'],
  // The invoice loader's lists (issue 17 §3): invoices per account.move create, and invoices handled at once per
  // partition; the lists in flight are about partitions × concurrency ÷ batch, each served by one Odoo worker.
  INVOICE_LOAD_BATCH: [IntFromEnv(1, 1000), '200'],
  INVOICE_LOAD_CONCURRENCY: [IntFromEnv(1, 1000), '300'],
  INVOICE_LOAD_LISTS_IN_FLIGHT: [IntFromEnv(1, 64), '4'],
  RETRY_INITIAL_MS: [IntFromEnv(1, 60_000), '200'],
  RETRY_MAX_MS: [IntFromEnv(1, 600_000), '30000'],
  // Retriable failures that are not outages (PRECONDITION_PENDING) are dead-lettered at this attempt; outages (5xx,
  // 429, timeouts, unreachable, a database or Kafka down) are not: they are retried until they end, or for
  // RETRY_GIVE_UP_AFTER_MS when set (0 = never give up; docs/decisions/0009-outages-block.md).
  RETRY_MAX_ATTEMPTS: [IntFromEnv(1, 1000), '12'],
  RETRY_GIVE_UP_AFTER_MS: [IntFromEnv(0, 31 * 86_400_000), '0'],
  HTTP_PORT: [IntFromEnv(0, 65535), '9464'],
  // The original's invoice download (`/web/binary/download_invoice`, docs/parity.md I-pdf) on the ops server. It
  // exposes customer invoices, so it is off unless enabled, and then needs a bearer token (a secret, >= 24 chars).
  INVOICE_PDF_ROUTE: [BoolFromEnv, 'false'],
  INVOICE_PDF_TOKEN: [OptionalString, ''],
  // The ops server answers on loopback unless told otherwise (a pod or container sets 0.0.0.0 for its probes).
  HTTP_HOST: [NonEmpty, '127.0.0.1'],
  // `status` warns and the slot alert compares with this (docs/operations.md "Replication slot"): 1 GiB by default.
  REPLICATION_SLOT_WARN_BYTES: [IntFromEnv(1, Number.MAX_SAFE_INTEGER), '1073741824'],
} as const satisfies Record<string, readonly [t.Mixed, string | undefined]>;

type Spec = typeof SPEC;
export type ConfigKey = keyof Spec;

/**
 * The settings whose value is a secret or may carry one (a URL with a password). A deployment takes them from a
 * Secret, never from a ConfigMap (deploy/kubernetes; test/unit/deploy-manifests.test.ts checks every role's).
 */
export const SECRET_SETTINGS = [
  'ODOO_DATABASE_URL',
  'ODOO_SIGNAL_DATABASE_URL',
  'STATE_DATABASE_URL',
  'SCHEMA_REGISTRY_URL',
  'KAFKA_SASL_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  'CONNECT_PASSWORD',
  'OPENCELL_PASSWORD',
  'ODOO_PASSWORD',
  'INVOICE_PDF_TOKEN',
] as const satisfies readonly ConfigKey[];
export type SecretSetting = (typeof SECRET_SETTINGS)[number];
export type Settings = { [K in ConfigKey]: t.TypeOf<Spec[K][0]> };

/** How the Kafka clients reach the brokers: TLS (with the CA certificates to trust) and SASL. */
export interface KafkaClientSettings {
  brokers: string[];
  /** TLS; `ca`: PEM certificates read from KAFKA_SSL_CA (absent: the system's CAs) */
  ssl?: { ca?: string[] } | null;
  sasl?: { mechanism: SaslMechanism; username: string; password: string } | null;
}

/** Replicas of a topic and how many must be in sync for an acks=all write; `auto` = from the cluster's size. */
export interface ReplicationSetting {
  factor: number | 'auto';
  minInsync: number | 'auto';
}

/** HTTP Basic credentials of a REST service (registry, Kafka Connect). */
export interface BasicAuth {
  username: string;
  password: string;
}

export interface Config {
  kafka: KafkaClientSettings & { clientId: string; replication: ReplicationSetting };
  registryUrl: string;
  /** HTTP Basic credentials of the registry (null: none) */
  registryAuth: BasicAuth | null;
  /** `SCHEMA_REGISTRY_CA`: the PEM certificates its HTTPS client trusts (null: the system's) */
  registryCa: string | null;
  connectUrl: string;
  /** HTTP Basic credentials of Kafka Connect's REST API (null: none) */
  connectAuth: BasicAuth | null;
  /** `CONNECT_CA`: the PEM certificates its HTTPS client trusts (null: the system's) */
  connectCa: string | null;
  /** `DEBEZIUM_SLOT_NAME`: the connector's replication slot when not the connector file's (null) */
  debeziumSlotName: string | null;
  /** `DEBEZIUM_DB_USER`: the connector's database role */
  debeziumDbUser: string;
  odooDatabaseUrl: string;
  /** `ODOO_SIGNAL_DATABASE_URL`: `snapshot` inserts its signal row through this role */
  odooSignalDatabaseUrl: string;
  stateDatabaseUrl: string;
  /** connections per PostgreSQL pool of a projection role (PG_POOL_MAX) */
  pgPoolMax: number | 'auto';
  /** `FENCE_LEASE_MS` (src/core/call-lease.ts) */
  fenceLeaseMs: number;
  topics: {
    prefix: string;
    dlq: string;
    intents: string;
    intentsPartitions: number;
    syncEvents: string;
    invoiceEvents: string;
  };
  opencell: {
    baseUrl: string;
    user: string;
    password: string;
    timeoutMs: number;
    concurrency: number;
    /** `OPENCELL_SELLER`, or the original's default SC when unset (then `fromOdoo.seller`) */
    seller: string;
    /** `OPENCELL_CUSTOMER_CATEGORY`, or the original's default CLIENT when unset (then `fromOdoo.customerCategory`) */
    customerCategory: string;
    /** Which of the two are unset here and read from Odoo's ir.config_parameter at start (the original's source). */
    fromOdoo: { seller: boolean; customerCategory: boolean };
    /** `OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY` (opt-in, default false = the original's hard-coded CLIENT). */
    hierarchyUsesCustomerCategory: boolean;
    /** `REFUSE_INVALID_IBAN` (opt-in, default false = the original, which sent any stored IBAN). */
    refuseInvalidIban: boolean;
    /** `ACCOUNT_OWNER_NAME_FALLBACK` (opt-in, default false = the original's "firstname lastname", "False" for none). */
    accountOwnerNameFallback: boolean;
    /** `FORCE_CREATE_WITH_LINES` (opt-in, default false = the original's forced creation, without the lines). */
    forceCreateWithLines: boolean;
    /**
     * `PHONE_PLACEHOLDER_IS_NO_NUMBER` (opt-in, default false = the original, which sent Odoo's "-" placeholder as an
     * access code and description, and whose T7 fired on it): "-" is no number, in the payloads and in T7.
     */
    phonePlaceholderIsNoNumber: boolean;
  };
  /**
   * `SYNC_PARTNER_IDENTITY` (opt-in, default false = the original): a partner's name, VAT, email, mobile or phone
   * change also updates the OpenCell customer.
   */
  syncPartnerIdentity: boolean;
  /**
   * `SYNC_EMAIL_IBAN_AT_CREATION` (opt-in, default false = the original): the email links and mandate written by the
   * transaction that created a contract also give the W1 / W2 update (the original reacted only to later writes).
   */
  syncEmailIbanAtCreation: boolean;
  /**
   * `SYNC_TERMINATION_AT_CREATION` (opt-in, default false = the original, docs/parity.md ADD-create): a contract
   * inserted already terminated also gives terminate_subscription, and a service line inserted with a date_end also
   * gives terminate_service (the original's T2 / T5 listeners reacted to writes only).
   */
  syncTerminationAtCreation: boolean;
  /**
   * `HOLD_TERMINATIONS` (default true = the original): a subscription or service termination dated after today is
   * kept in the state database until its day (T2 00:05, T5 00:00 UTC) and then projected; false sends it at once
   * (OpenCell then schedules a future date itself). `HELD_INTENTS_POLL_MS`: how often the scheduler looks for due
   * intents; `HELD_INTENTS_CLOCK_OFFSET_MS`: added to the scheduler's clock (0; tests release held intents early).
   */
  heldIntents: { enabled: boolean; pollMs: number; clockOffsetMs: number };
  /**
   * `SNAPSHOT_ONE_SHOTS_SINCE` (off by default): one-shot lines read by a snapshot (`r`) and starting on or after this
   * day (`YYYY-MM-DD`) are applied; null = a snapshot never applies a one-shot (issue 15 §4).
   */
  snapshotOneShotsSince: string | null;
  /** `ODOO_LANG` (default ca_ES): the language translated names are read in, then en_US. */
  odoo: { url: string; db: string; user: string; password: string; lang: string };
  /** `INVOICE_POLL_*`: the invoice poller's lookback (days read again by every poll), page size and interval. */
  invoicePoll: { lookbackDays: number; verifyDays: number; pageSize: number; intervalMs: number };
  /**
   * Invoice import. `partnerByRef` (`INVOICE_PARTNER_BY_REF`, opt-in, default false = the original): an invoice
   * whose contract group is unknown goes to the partner whose ref is its customer code (the Odoo 12 rule).
   * `creditNoteTypes` (`INVOICE_CREDIT_NOTE_TYPES`, default ADJ): loaded as out_refund. `odooRequestLimitMs`
   * (`ODOO_REQUEST_LIMIT_MS`, default 120000): how long a create whose answer was lost may still commit in Odoo.
   * `loadBatch` (`INVOICE_LOAD_BATCH`, default 200): invoices per `account.move` create; `loadConcurrency`
   * (`INVOICE_LOAD_CONCURRENCY`, default 300): invoices the loader handles at once per partition; `loadInFlight`
   * (`INVOICE_LOAD_LISTS_IN_FLIGHT`, default 4): most creates in flight at once.
   */
  invoiceImport: {
    partnerByRef: boolean;
    creditNoteTypes: string[];
    odooRequestLimitMs: number;
    loadBatch?: number;
    loadConcurrency?: number;
    loadInFlight?: number;
  };
  /**
   * `RETRY_*`: backoff from `initialMs` doubling up to `maxMs` (with jitter). `maxAttempts` bounds the retriable
   * failures that are not outages (PRECONDITION_PENDING); `giveUpAfterMs` bounds outages in time (0 = never: the
   * partition waits for the outage to end). docs/decisions/0009-outages-block.md.
   */
  retry: { initialMs: number; maxMs: number; maxAttempts: number; giveUpAfterMs: number };
  httpPort: number;
  httpHost: string;
  /** `INVOICE_PDF_ROUTE` / `INVOICE_PDF_TOKEN`: the opt-in invoice PDF route of the ops server (I-pdf). */
  invoicePdf: { enabled: boolean; token: string };
  /** `REPLICATION_SLOT_WARN_BYTES`: retained WAL from which a replication slot is reported as a warning */
  slotWarnBytes: number;
}

/** Validates a raw key/value source (env, file); throws one ConfigError listing every problem. */
export function parseSettings(
  source: Record<string, string | undefined>,
  only?: readonly ConfigKey[],
): Settings {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SPEC) as ConfigKey[]) {
    const [codec, dflt] = SPEC[key];
    const raw = source[key] ?? dflt;
    if (raw === undefined) {
      if (!only || only.includes(key)) problems.push(`${key} is required but not set`);
      continue;
    }
    const decoded = (codec as t.Type<unknown, unknown, unknown>).decode(raw);
    if (isLeft(decoded)) {
      const msg = decoded.left.map((e) => e.message).filter(Boolean)[0] ?? `expected ${codec.name}`;
      const shown = /PASSWORD/.test(key) ? '(hidden)' : JSON.stringify(maskUrlCredentials(raw));
      problems.push(`${key}=${shown}: ${msg}`);
    } else out[key] = decoded.right;
  }
  const { KAFKA_REPLICATION_FACTOR: rf, KAFKA_MIN_INSYNC_REPLICAS: minIsr } = out;
  if (typeof rf === 'number' && typeof minIsr === 'number' && minIsr > rf)
    problems.push(
      `KAFKA_MIN_INSYNC_REPLICAS=${minIsr}: must not exceed KAFKA_REPLICATION_FACTOR=${rf} (no write could succeed)`,
    );
  if (out.KAFKA_SASL_MECHANISM !== undefined && out.KAFKA_SASL_MECHANISM !== 'none') {
    if (!out.KAFKA_SASL_USERNAME)
      problems.push(
        `KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=${String(out.KAFKA_SASL_MECHANISM)}`,
      );
    if (!out.KAFKA_SASL_PASSWORD)
      problems.push(
        `KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=${String(out.KAFKA_SASL_MECHANISM)}`,
      );
  }
  for (const svc of ['SCHEMA_REGISTRY', 'CONNECT'] as const) {
    const [user, password] = [out[`${svc}_USERNAME`], out[`${svc}_PASSWORD`]];
    if (user && !password) problems.push(`${svc}_PASSWORD is required with ${svc}_USERNAME`);
    if (password && !user) problems.push(`${svc}_USERNAME is required with ${svc}_PASSWORD`);
  }
  if (out.KAFKA_SSL_CA && out.KAFKA_SSL === false)
    problems.push(`KAFKA_SSL_CA=${JSON.stringify(out.KAFKA_SSL_CA)}: set KAFKA_SSL=true to use TLS`);
  if (out.INVOICE_PDF_ROUTE === true && String(out.INVOICE_PDF_TOKEN ?? '').length < 24)
    problems.push('INVOICE_PDF_TOKEN is required (at least 24 characters) with INVOICE_PDF_ROUTE=true');
  if (problems.length) throw new ConfigError(problems);
  return out as Settings;
}

/** The PEM certificates of a CA setting's file (null when the setting is empty); a ConfigError naming it else. */
function readPemCa(
  setting: 'KAFKA_SSL_CA' | 'SCHEMA_REGISTRY_CA' | 'CONNECT_CA',
  path: string,
): string | null {
  if (!path) return null;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([`${setting}=${JSON.stringify(path)}: ${(e as Error).message}`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError([`${setting}=${JSON.stringify(path)}: not a PEM certificate file`]);
  return pem;
}

/**
 * Loads the config. `required` narrows which secrets must be present, so that a command that never talks
 * to Odoo (e.g. `status`) does not demand ODOO_PASSWORD.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  required: readonly ConfigKey[] = Object.keys(SPEC) as ConfigKey[],
): Config {
  let fileValues: Record<string, string> = {};
  if (env.SYNC_CONFIG_FILE) {
    try {
      fileValues = JSON.parse(readFileSync(env.SYNC_CONFIG_FILE, 'utf8')) as Record<string, string>;
    } catch (e) {
      throw new ConfigError([`SYNC_CONFIG_FILE=${env.SYNC_CONFIG_FILE}: ${(e as Error).message}`]);
    }
  }
  const merged: Record<string, string | undefined> = { ...fileValues, ...env };
  // Secrets not required by the caller may stay unset: give them a placeholder that is never sent.
  for (const key of ['OPENCELL_PASSWORD', 'ODOO_PASSWORD'] as const) {
    if (merged[key] === undefined && !required.includes(key)) merged[key] = '-unset-';
  }
  const s = parseSettings(merged, required);
  registerSecret(s.OPENCELL_PASSWORD);
  registerSecret(s.ODOO_PASSWORD);
  for (const url of [s.ODOO_DATABASE_URL, s.ODOO_SIGNAL_DATABASE_URL, s.STATE_DATABASE_URL]) {
    const { user, password } = pgUrlCredentials(url);
    if (password && password !== user) registerSecret(password); // the local stack's role=password is no secret
  }
  registerSecret(s.KAFKA_SASL_PASSWORD);
  registerSecret(s.SCHEMA_REGISTRY_PASSWORD);
  registerSecret(s.CONNECT_PASSWORD);
  registerSecret(s.INVOICE_PDF_TOKEN);
  const kafkaCa = s.KAFKA_SSL ? readPemCa('KAFKA_SSL_CA', s.KAFKA_SSL_CA) : null;
  const ca = kafkaCa === null ? undefined : [kafkaCa];
  return {
    kafka: {
      brokers: s.KAFKA_BROKERS,
      clientId: s.KAFKA_CLIENT_ID,
      replication: { factor: s.KAFKA_REPLICATION_FACTOR, minInsync: s.KAFKA_MIN_INSYNC_REPLICAS },
      ssl: s.KAFKA_SSL ? (ca ? { ca } : {}) : null,
      sasl:
        s.KAFKA_SASL_MECHANISM === 'none'
          ? null
          : {
              mechanism: s.KAFKA_SASL_MECHANISM,
              username: s.KAFKA_SASL_USERNAME,
              password: s.KAFKA_SASL_PASSWORD,
            },
    },
    registryUrl: s.SCHEMA_REGISTRY_URL,
    registryAuth: s.SCHEMA_REGISTRY_USERNAME
      ? { username: s.SCHEMA_REGISTRY_USERNAME, password: s.SCHEMA_REGISTRY_PASSWORD }
      : null,
    registryCa: readPemCa('SCHEMA_REGISTRY_CA', s.SCHEMA_REGISTRY_CA),
    connectUrl: s.CONNECT_URL,
    connectAuth: s.CONNECT_USERNAME ? { username: s.CONNECT_USERNAME, password: s.CONNECT_PASSWORD } : null,
    connectCa: readPemCa('CONNECT_CA', s.CONNECT_CA),
    debeziumSlotName: s.DEBEZIUM_SLOT_NAME || null,
    debeziumDbUser: s.DEBEZIUM_DB_USER,
    odooDatabaseUrl: s.ODOO_DATABASE_URL,
    odooSignalDatabaseUrl: s.ODOO_SIGNAL_DATABASE_URL,
    stateDatabaseUrl: s.STATE_DATABASE_URL,
    pgPoolMax: s.PG_POOL_MAX,
    fenceLeaseMs: s.FENCE_LEASE_MS,
    topics: {
      prefix: s.TOPIC_PREFIX,
      dlq: s.DLQ_TOPIC,
      intents: s.INTENTS_TOPIC,
      intentsPartitions: s.INTENTS_PARTITIONS,
      syncEvents: s.SYNC_EVENTS_TOPIC,
      invoiceEvents: s.INVOICE_EVENTS_TOPIC,
    },
    opencell: {
      baseUrl: s.OPENCELL_BASEURL,
      user: s.OPENCELL_USER,
      password: s.OPENCELL_PASSWORD,
      timeoutMs: s.OPENCELL_TIMEOUT_MS,
      concurrency: s.OPENCELL_CONCURRENCY,
      seller: s.OPENCELL_SELLER || DEFAULT_OPENCELL_SELLER,
      customerCategory: s.OPENCELL_CUSTOMER_CATEGORY || DEFAULT_OPENCELL_CUSTOMER_CATEGORY,
      fromOdoo: { seller: !s.OPENCELL_SELLER, customerCategory: !s.OPENCELL_CUSTOMER_CATEGORY },
      hierarchyUsesCustomerCategory: s.OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY,
      refuseInvalidIban: s.REFUSE_INVALID_IBAN,
      accountOwnerNameFallback: s.ACCOUNT_OWNER_NAME_FALLBACK,
      forceCreateWithLines: s.FORCE_CREATE_WITH_LINES,
      phonePlaceholderIsNoNumber: s.PHONE_PLACEHOLDER_IS_NO_NUMBER,
    },
    syncPartnerIdentity: s.SYNC_PARTNER_IDENTITY,
    syncEmailIbanAtCreation: s.SYNC_EMAIL_IBAN_AT_CREATION,
    syncTerminationAtCreation: s.SYNC_TERMINATION_AT_CREATION,
    snapshotOneShotsSince: s.SNAPSHOT_ONE_SHOTS_SINCE,
    heldIntents: {
      enabled: s.HOLD_TERMINATIONS,
      pollMs: s.HELD_INTENTS_POLL_MS,
      clockOffsetMs: s.HELD_INTENTS_CLOCK_OFFSET_MS,
    },
    odoo: { url: s.ODOO_URL, db: s.ODOO_DB, user: s.ODOO_USER, password: s.ODOO_PASSWORD, lang: s.ODOO_LANG },
    invoicePoll: {
      lookbackDays: s.INVOICE_POLL_LOOKBACK_DAYS,
      verifyDays: s.INVOICE_POLL_VERIFY_DAYS,
      pageSize: s.INVOICE_POLL_PAGE_SIZE,
      intervalMs: s.INVOICE_POLL_INTERVAL_MS,
    },
    invoiceImport: {
      partnerByRef: s.INVOICE_PARTNER_BY_REF,
      creditNoteTypes: s.INVOICE_CREDIT_NOTE_TYPES,
      odooRequestLimitMs: s.ODOO_REQUEST_LIMIT_MS,
      loadBatch: s.INVOICE_LOAD_BATCH,
      loadConcurrency: s.INVOICE_LOAD_CONCURRENCY,
      loadInFlight: s.INVOICE_LOAD_LISTS_IN_FLIGHT,
    },
    retry: {
      initialMs: s.RETRY_INITIAL_MS,
      maxMs: s.RETRY_MAX_MS,
      maxAttempts: s.RETRY_MAX_ATTEMPTS,
      giveUpAfterMs: s.RETRY_GIVE_UP_AFTER_MS,
    },
    httpPort: s.HTTP_PORT,
    httpHost: s.HTTP_HOST,
    invoicePdf: { enabled: s.INVOICE_PDF_ROUTE, token: s.INVOICE_PDF_TOKEN },
    slotWarnBytes: s.REPLICATION_SLOT_WARN_BYTES,
  };
}
