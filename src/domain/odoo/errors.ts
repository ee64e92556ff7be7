import { OdooRpcError, SyncError } from '../errors';

/**
 * Odoo-specific refinements of the error catalogue (src/domain/errors.ts). Every error here is a SyncError whose
 * `retriable` flag drives the retry policy; none of them ever carries the password.
 */

/** Transient database errors Odoo forwards as `psycopg2.*` (or names in the message of a wrapped one). */
const TRANSIENT =
  /SerializationFailure|LockNotAvailable|DeadlockDetected|TransactionRollback|could not serialize|concurrent update|could not obtain lock/i;

/** psycopg2 errors that repeat identically on retry: bad data, constraint violations, SQL/programming errors. */
const PERMANENT_PG =
  /Violation|IntegrityError|DataError|InvalidTextRepresentation|NumericValueOutOfRange|StringDataRightTruncation|InvalidDatetimeFormat|DatetimeFieldOverflow|ProgrammingError|UndefinedColumn|UndefinedTable|SyntaxError/;

/**
 * Whether an Odoo error (by `error.data.name` and message) is worth retrying: transient database errors
 * (`psycopg2.*`: serialization failures, deadlocks, lock timeouts, connection loss) are; psycopg2's data and
 * integrity errors, which would fail the same way again, and every odoo.exceptions.* / builtins.* are not.
 */
export function isRetriableOdooError(name: string, message = ''): boolean {
  if (TRANSIENT.test(name)) return true;
  if (name.startsWith('psycopg2.')) return !PERMANENT_PG.test(name);
  return name.startsWith('odoo.') || name.startsWith('builtins.') || name.startsWith('werkzeug.')
    ? false
    : TRANSIENT.test(message);
}

/** `common.login` answered `false`: wrong database, login or password. Not retriable (a configuration error). */
export class OdooLoginError extends OdooRpcError {
  constructor(
    readonly login: string,
    readonly db: string,
  ) {
    super(
      'odoo.exceptions.AccessDenied',
      `login failed for user "${login}" on database "${db}"`,
      'common.login',
      false,
    );
  }
}

/** HTTP 5xx, connection refused/reset, or a timeout: retriable. */
export class OdooUnavailableError extends SyncError {
  constructor(
    code: 'ODOO_UNAVAILABLE' | 'NETWORK',
    message: string,
    readonly endpoint: string,
    readonly httpStatus?: number,
    readonly timedOut = false,
    cause?: unknown,
  ) {
    super(code, message, { retriable: true, cause, details: { endpoint, httpStatus, timedOut } });
  }
}
