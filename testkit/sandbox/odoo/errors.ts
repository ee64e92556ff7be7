/**
 * Python exceptions as Odoo 16 serializes them into the JSON-RPC error envelope (`odoo.http.serialize_exception`):
 * `data.name` is `module.Class`, `data.message` the text, `data.arguments` the exception args.
 */
export class OdooException extends Error {
  constructor(
    /** Fully qualified Python class name, e.g. `odoo.exceptions.UserError`. */
    readonly pyName: string,
    message: string,
  ) {
    super(message);
    this.name = pyName;
  }
}

export const userError = (m: string) => new OdooException('odoo.exceptions.UserError', m);
export const validationError = (m: string) => new OdooException('odoo.exceptions.ValidationError', m);
export const accessDenied = () => new OdooException('odoo.exceptions.AccessDenied', 'Access Denied');
export const accessError = (m: string) => new OdooException('odoo.exceptions.AccessError', m);
export const valueError = (m: string) => new OdooException('builtins.ValueError', m);
export const typeError = (m: string) => new OdooException('builtins.TypeError', m);
export const keyError = (m: string) => new OdooException('builtins.KeyError', m);
export const attributeError = (m: string) => new OdooException('builtins.AttributeError', m);

export function missingError(model: string, ids: number[], uid: number): OdooException {
  return new OdooException(
    'odoo.exceptions.MissingError',
    `Record does not exist or has been deleted.\n(Record: ${model}(${ids.join(', ')},), User: ${uid})`,
  );
}

/** SQLSTATE → psycopg2 exception class name (the ones that matter here). */
const PG_NAMES: Record<string, string> = {
  '40001': 'psycopg2.errors.SerializationFailure',
  '40P01': 'psycopg2.errors.DeadlockDetected',
  '55P03': 'psycopg2.errors.LockNotAvailable',
  '57014': 'psycopg2.errors.QueryCanceled',
  '22P02': 'psycopg2.errors.InvalidTextRepresentation',
  '22003': 'psycopg2.errors.NumericValueOutOfRange',
  '22001': 'psycopg2.errors.StringDataRightTruncation',
  '22007': 'psycopg2.errors.InvalidDatetimeFormat',
  '22008': 'psycopg2.errors.DatetimeFieldOverflow',
  '08006': 'psycopg2.OperationalError',
  '57P01': 'psycopg2.OperationalError',
};

interface PgError {
  code?: string;
  message?: string;
  constraint?: string;
  column?: string;
  table?: string;
}

/**
 * Converts a node-postgres error the way Odoo 16 does (`odoo.service.model._as_validation_error` for integrity
 * errors, psycopg2 exceptions otherwise). Anything that is not a database error is returned unchanged.
 */
export function fromPgError(
  e: unknown,
  describe: (table?: string) => { model: string; label: string },
): unknown {
  if (e instanceof OdooException) return e;
  const pg = e as PgError;
  if (!pg || typeof pg.code !== 'string' || !/^[0-9A-Z]{5}$/.test(pg.code)) return e;
  const { model, label } = describe(pg.table);
  switch (pg.code) {
    case '23502':
      return validationError(
        'The operation cannot be completed:\n' +
          '- Create/update: a mandatory field is not set.\n' +
          '- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n' +
          `Model: ${label} (${model})\nField: ${pg.column ?? '?'}`,
      );
    case '23503':
      return validationError(
        'The operation cannot be completed: another model requires the record being deleted. ' +
          'If possible, archive it instead.\n\n' +
          `Model: ${label} (${model})\nConstraint: ${pg.constraint ?? '?'}`,
      );
    case '23505':
    case '23514':
      return validationError(`The operation cannot be completed: ${pg.message ?? 'constraint violated'}`);
    default:
      return new OdooException(PG_NAMES[pg.code] ?? 'psycopg2.DatabaseError', pg.message ?? 'database error');
  }
}
