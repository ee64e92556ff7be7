/**
 * The one error catalogue. Every error the pipeline raises on purpose is a `SyncError` with a stable
 * `code` and a `retriable` flag; the retry policy and the dead-letter routing read only those two.
 *
 * - retriable: network errors, timeouts, 5xx, 429 (with `retryAfterMs`), transient database errors.
 * - not retriable: malformed input, business rejections (OpenCell 4xx / errorCode, Odoo UserError),
 *   unknown product codes, configuration errors. These go to the dead-letter topic.
 *
 * Messages never carry secrets: adapters build them from status codes and server messages only, and
 * `redact()` (log.ts) is applied again before anything is logged or published.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MALFORMED_EVENT'
  | 'MISSING_COLUMN'
  | 'OPENCELL_BUSINESS'
  | 'OPENCELL_UNAVAILABLE'
  | 'OPENCELL_RATE_LIMITED'
  | 'OPENCELL_TIMEOUT'
  | 'OPENCELL_BAD_RESPONSE'
  | 'NETWORK'
  | 'ODOO_BUSINESS'
  | 'ODOO_UNAVAILABLE'
  | 'ODOO_BAD_RESPONSE'
  | 'UNKNOWN_PRODUCT'
  | 'PROJECTION_REJECTED'
  | 'PRECONDITION_PENDING'
  | 'FENCED'
  | 'FENCE_LEASE_EXPIRED'
  | 'DATABASE'
  | 'SCHEMA_INCOMPATIBLE'
  | 'INTERNAL';

export interface SyncErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: SyncErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.details = opts.details ?? {};
  }
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      retriable: this.retriable,
      message: this.message,
      ...this.details,
    };
  }
}

/** Every invalid or missing setting, reported at once. */
export class ConfigError extends SyncError {
  constructor(readonly problems: string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
}

/** A change event (or any inbound message) that does not decode. Names where it came from and what is wrong. */
export class MalformedEventError extends SyncError {
  constructor(
    readonly topic: string,
    readonly partition: number | undefined,
    readonly offset: string | undefined,
    readonly field: string,
    reason: string,
  ) {
    super(
      'MALFORMED_EVENT',
      `malformed event on ${topic}${partition === undefined ? '' : `[${partition}]`}${offset === undefined ? '' : `@${offset}`}: ${field}: ${reason}`,
      { details: { topic, partition, offset, field } },
    );
  }
}

/**
 * A change event lacks a column a trigger reads (the column does not exist in this Odoo database, or is left out of
 * the connector's column.include.list). Decoding tolerates absent columns; only the trigger that needs one fails,
 * with this error naming the table and the column. Not retriable: the same event will always lack it.
 */
export class MissingColumnError extends SyncError {
  constructor(
    readonly table: string,
    readonly column: string,
  ) {
    super(
      'MISSING_COLUMN',
      `${table}.${column} is missing from the change event (absent from this Odoo database or from the connector's column.include.list), and a trigger needs it`,
      { retriable: false, details: { table, column } },
    );
  }
}

/** OpenCell said no: HTTP 4xx, or HTTP 200 with `status: FAIL` / an `errorCode`. Not retriable. */
export class OpenCellBusinessError extends SyncError {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly httpStatus: number,
    readonly endpoint: string,
  ) {
    super(
      'OPENCELL_BUSINESS',
      `OpenCell ${endpoint} rejected the call (${httpStatus} ${errorCode}): ${message}`,
      {
        details: { errorCode, httpStatus, endpoint },
      },
    );
  }
}

/** 5xx, connection refused/reset, or a timeout: retriable. `retryAfterMs` is set for 429. */
export class OpenCellUnavailableError extends SyncError {
  constructor(
    code: 'OPENCELL_UNAVAILABLE' | 'OPENCELL_RATE_LIMITED' | 'OPENCELL_TIMEOUT' | 'NETWORK',
    message: string,
    readonly endpoint: string,
    readonly httpStatus?: number,
    readonly retryAfterMs?: number,
    cause?: unknown,
  ) {
    super(code, message, { retriable: true, cause, details: { endpoint, httpStatus, retryAfterMs } });
  }
}

/** The response did not match the documented shape (decoded with io-ts). Not retriable. */
export class BadResponseError extends SyncError {
  constructor(system: 'OPENCELL' | 'ODOO', endpoint: string, reason: string) {
    super(
      system === 'OPENCELL' ? 'OPENCELL_BAD_RESPONSE' : 'ODOO_BAD_RESPONSE',
      `${system} ${endpoint}: unexpected response: ${reason}`,
      {
        details: { endpoint },
      },
    );
  }
}

/** Odoo JSON-RPC error envelope; retriable only for transient database errors (psycopg2.*). */
export class OdooRpcError extends SyncError {
  constructor(
    readonly errorName: string,
    message: string,
    readonly method: string,
    retriable: boolean,
  ) {
    super(retriable ? 'ODOO_UNAVAILABLE' : 'ODOO_BUSINESS', `Odoo ${method}: ${errorName}: ${message}`, {
      retriable,
      details: { errorName, method },
    });
  }
}

export class UnknownProductError extends SyncError {
  constructor(
    readonly productId: number | string,
    readonly productCode: string | null,
  ) {
    super(
      'UNKNOWN_PRODUCT',
      `product ${productId} has code ${productCode === null ? '(none)' : `"${productCode}"`}, which OpenCell's catalog does not know`,
      { details: { productId, productCode } },
    );
  }
}

/** The original module's business refusals (blocked partner, no customer account, …). Not retriable. */
export class ProjectionRejectedError extends SyncError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PROJECTION_REJECTED', message, { details });
  }
}

/** A causal precondition is not met yet (e.g. a line arrived before its subscription): retry later. */
export class PreconditionPendingError extends SyncError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PRECONDITION_PENDING', message, { retriable: true, details });
  }
}

/**
 * This instance no longer owns the partition of the aggregate (another instance took it after a rebalance: its
 * fencing epoch is newer, docs/architecture.md "Fencing"). Not an outcome of the message: the batch stops without
 * finishing, dead-lettering or committing it; the partition's new owner handles it.
 */
export class FencedError extends SyncError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FENCED', message, { retriable: false, details });
  }
}

/**
 * A state-changing call was about to leave under a fence check older than its lease (src/core/call-lease.ts): the
 * process was held up (a pause, a long GC) between the check and the send. Nothing was sent; the caller checks the
 * fence again and sends, or stops with FencedError if the partition moved meanwhile.
 */
export class FenceLeaseExpiredError extends SyncError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FENCE_LEASE_EXPIRED', message, { retriable: true, details });
  }
}

/**
 * PostgreSQL SQLSTATEs that say "try again": connection exceptions (08…), insufficient resources such as too many
 * connections (53…), operator intervention / shutdown (57P…: 57P01 is what a session ended by `pg_terminate_backend`
 * or a fast shutdown answers its query in flight, 57P03 a server still starting), serialization failure and deadlock
 * (40001, 40P01), and 25006 (a write refused as read-only: a session still on a primary that a failover demoted).
 * Socket errors of a server going away or not yet back count too (ECONNREFUSED while it restarts, EAI_AGAIN while
 * a failover's DNS name moves).
 */
export function isTransientDatabaseError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (
      /^(08|53|57P)/.test(code) ||
      ['40001', '40P01', '25006'].includes(code) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(
        code,
      )
    )
      return true;
  }
  return err instanceof Error && LOST_CONNECTION.test(err.message);
}

/**
 * node-postgres' own errors of a lost session carry no SQLSTATE, only these messages: the socket closed under a
 * query ("Connection terminated unexpectedly"), a query sent on a client whose session already failed ("Client has
 * encountered a connection error and is not queryable"), a pool that could not open a session in time.
 */
const LOST_CONNECTION =
  /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect/i;

/**
 * kafkajs errors that are transient although their class is marked non-retriable (kafkajs src/errors.js): its own
 * retrier gave up on a retriable error (`KafkaJSNumberOfRetriesExceeded`, the cause is the retriable error), a
 * request or lock that took too long, a group coordinator being moved. A broker down for a while, a leader
 * election or a rebalance must delay an event, never dead-letter it (issue 15 §7).
 */
const TRANSIENT_KAFKA_ERRORS = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
]);

/** A kafkajs error that a later try can get past (by name: the domain does not import kafkajs). */
export function isTransientKafkaError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const name = (err as { name?: unknown }).name;
  if (typeof name !== 'string' || !name.startsWith('KafkaJS')) return false;
  if (TRANSIENT_KAFKA_ERRORS.has(name)) return true;
  // a send to several partitions: transient when every partition's error is
  const errors = (err as { errors?: unknown }).errors;
  if (name === 'KafkaJSAggregateError' && Array.isArray(errors) && errors.length > 0)
    return errors.every((e) => isTransientKafkaError(e));
  return (err as { retriable?: unknown }).retriable === true;
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof SyncError) return err.retriable;
  // Driver errors: transient database errors (pg), transient Kafka errors (kafkajs' `retriable` flag and the
  // transient ones it marks otherwise). Anything else is treated as a bug and is not retried forever.
  if (isTransientDatabaseError(err) || isTransientKafkaError(err)) return true;
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

/**
 * Retriable failures that wait for something to happen rather than for a system to come back: a causal precondition
 * (a line before its subscription, an Odoo create whose answer was lost and that may still commit). Bounded by
 * RETRY_MAX_ATTEMPTS. Every other retriable failure is an outage (docs/decisions/0009-outages-block.md).
 */
const WAITING_CODES: ReadonlySet<string> = new Set<ErrorCode>(['PRECONDITION_PENDING']);

/**
 * A retriable failure that says a system the pipeline depends on is unavailable: OpenCell or Odoo answering 5xx or
 * 429, timing out or unreachable, a database or Kafka down, a fence lease run out. An outage never dead-letters a
 * message by default, however long it lasts: its partition waits (docs/decisions/0009-outages-block.md), since the
 * change is valid and skipping it would apply the customer's next changes out of order.
 */
export function isOutage(err: unknown): boolean {
  if (!isRetriable(err)) return false;
  return !(err instanceof SyncError && WAITING_CODES.has(err.code));
}

export function errorCodeOf(err: unknown): string {
  if (err instanceof SyncError) return err.code;
  if (err instanceof Error) return err.name;
  return 'INTERNAL';
}
