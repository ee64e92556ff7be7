/**
 * OpenCell API failures as the sandbox raises them: an errorCode (or none, for a plain MeveoApiException) and a
 * message built from OpenCell's own templates. The HTTP status is derived from the errorCode
 * and the version profile at response time.
 */
export class ApiError extends Error {
  constructor(
    readonly errorCode: string | undefined,
    message: string,
    /** Forces a status regardless of the errorCode (e.g. framework-level errors). */
    readonly forcedStatus?: number,
  ) {
    super(message);
  }
}

export interface VersionProfile {
  name: 'v10' | 'v11' | 'v14';
  /** ENTITY_ALREADY_EXISTS_EXCEPTION: 403 up to 10.x, 409 from 11.x. */
  alreadyExistsStatus: number;
  /** DUPLICATE_ACCESS: 403 up to 13.x, 500 from 14.x. */
  duplicateAccessStatus: number;
  /** From 13.x the unknown-path 404 carries a JSON ActionStatus; before, the body is empty. */
  unknownPathJson: boolean;
  /** Pre-4.7 behaviour: every FAIL is answered with HTTP 200 (to test client tolerance). */
  legacy200: boolean;
}

export function profileOf(name: VersionProfile['name'] = 'v11', legacy200 = false): VersionProfile {
  switch (name) {
    case 'v10':
      return {
        name,
        alreadyExistsStatus: 403,
        duplicateAccessStatus: 403,
        unknownPathJson: false,
        legacy200,
      };
    case 'v14':
      return { name, alreadyExistsStatus: 409, duplicateAccessStatus: 500, unknownPathJson: true, legacy200 };
    default:
      return {
        name: 'v11',
        alreadyExistsStatus: 409,
        duplicateAccessStatus: 403,
        unknownPathJson: false,
        legacy200,
      };
  }
}

export function httpStatusFor(err: ApiError, profile: VersionProfile): number {
  if (err.forcedStatus !== undefined) return err.forcedStatus;
  switch (err.errorCode) {
    case 'MISSING_PARAMETER':
    case 'INVALID_PARAMETER':
    case 'INVALID_ENUM_VALUE':
    case 'INVALID_IMAGE_DATA':
      return 400;
    case 'AUTHENTICATION_AUTHORIZATION_EXCEPTION':
    case 'UNAUTHORIZED':
      return 401;
    case 'ENTITY_ALREADY_EXISTS_EXCEPTION':
      return profile.alreadyExistsStatus;
    case 'DELETE_REFERENCED_ENTITY_EXCEPTION':
    case 'ACTION_FORBIDDEN':
    case 'INSUFFICIENT_BALANCE':
      return 403;
    case 'DUPLICATE_ACCESS':
      return profile.duplicateAccessStatus;
    case 'ENTITY_DOES_NOT_EXISTS_EXCEPTION':
      return 404;
    default:
      return 500;
  }
}

export const notFound = (entity: string, code: string | number, key = 'code'): ApiError =>
  new ApiError('ENTITY_DOES_NOT_EXISTS_EXCEPTION', `${entity} with ${key}=${code} does not exists.`);

export const notFoundMsg = (message: string): ApiError =>
  new ApiError('ENTITY_DOES_NOT_EXISTS_EXCEPTION', message);

export const alreadyExists = (entity: string, code: string): ApiError =>
  new ApiError('ENTITY_ALREADY_EXISTS_EXCEPTION', `${entity} with code=${code} already exists.`);

/** One 400 listing every missing field of the step, as MissingParameterException(list) does. */
export const missing = (fields: string[]): ApiError =>
  new ApiError(
    'MISSING_PARAMETER',
    `The following parameters are required or contain invalid values: ${fields.join(', ')}.`,
  );

/** The single-string form (no trailing dot). */
export const missingOne = (text: string): ApiError =>
  new ApiError(
    'MISSING_PARAMETER',
    `The following parameters are required or contain invalid values: ${text}`,
  );

export const invalid = (message: string): ApiError => new ApiError('INVALID_PARAMETER', message);
export const business = (message: string): ApiError => new ApiError('BUSINESS_API_EXCEPTION', message);
export const generic = (message: string): ApiError => new ApiError('GENERIC_API_EXCEPTION', message);
/** A plain MeveoApiException: HTTP 500 with no errorCode. */
export const meveo = (message: string): ApiError => new ApiError(undefined, message);

/** Throws `missing(...)` when any of the named values is blank. */
export function requireFields(values: Record<string, unknown>): void {
  const absent = Object.entries(values)
    .filter(([, v]) => v === undefined || v === null || (typeof v === 'string' && v.trim() === ''))
    .map(([k]) => k);
  if (absent.length) throw missing(absent);
}
