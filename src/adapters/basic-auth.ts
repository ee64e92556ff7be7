/**
 * HTTP Basic authentication of the pipeline's REST clients (schema registry, Kafka Connect; issue 16). One place
 * builds the header and the error for refused credentials, so that no message ever carries the password.
 */
import { SyncError } from '../domain/errors';
import type { BasicAuth } from '../core/config';

export type { BasicAuth };

/** `{Authorization: Basic …}` when credentials are configured, else no header (the default: behaviour unchanged). */
export function basicAuthHeaders(auth: BasicAuth | null | undefined): Record<string, string> {
  if (!auth) return {};
  return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

/**
 * The error for HTTP 401/403: a configuration problem (not retriable) that names the settings to check and the
 * user sent, never the password.
 */
export function credentialsRefused(
  service: string,
  origin: string,
  status: number,
  settings: { username: string; password: string },
  auth: BasicAuth | null | undefined,
): SyncError {
  const sent = auth ? `as user ${JSON.stringify(auth.username)}` : 'without credentials';
  return new SyncError(
    'CONFIG_INVALID',
    `${service} at ${origin} refused the request sent ${sent} (HTTP ${status}): ` +
      `check ${settings.username} and ${settings.password}`,
    { details: { origin, status } },
  );
}
