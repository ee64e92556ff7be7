/**
 * HTTPS to the schema registry and Kafka Connect's REST API behind a private CA (issue 16): SCHEMA_REGISTRY_CA and
 * CONNECT_CA name a PEM file whose certificates these clients trust instead of the system's (as KAFKA_SSL_CA does
 * for Kafka). One place makes the agent and the error for a certificate nobody told the client to trust, so that
 * the message names the setting to check.
 */
import { Agent } from 'node:https';
import { SyncError } from '../domain/errors';

const agents = new Map<string, Agent>();

/** An https agent trusting `ca` (PEM) for an https URL; none (Node's default) without a CA or for http. */
export function httpsAgent(url: string, ca: string | null | undefined): Agent | undefined {
  if (!ca || !url.startsWith('https:')) return undefined;
  let agent = agents.get(ca);
  if (!agent) {
    agent = new Agent({ ca, keepAlive: true });
    agents.set(ca, agent);
  }
  return agent;
}

/** Node's codes for a server certificate that does not verify against the trusted CAs. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** The same failures as some clients report them: in the message only. */
const UNTRUSTED_MESSAGE =
  /unable to verify the first certificate|self[- ]signed certificate|unable to get (local )?issuer certificate|certificate has expired|does not match certificate's altnames/i;

/** The TLS verification code of an error or of one of its causes (fetch wraps it), if it is one. */
function untrustedCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && UNTRUSTED.has(code)) return code;
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && UNTRUSTED_MESSAGE.test(message)) return message;
  }
  return undefined;
}

/**
 * The configuration error for a server certificate the client does not trust, naming the CA setting (not retriable:
 * waiting does not fix it); undefined for any other failure.
 */
export function untrustedCertificate(
  e: unknown,
  service: string,
  url: string,
  setting: 'SCHEMA_REGISTRY_CA' | 'CONNECT_CA',
  ca: string | null | undefined,
): SyncError | undefined {
  const code = untrustedCode(e);
  if (code === undefined) return undefined;
  const origin = new URL(url).origin;
  return new SyncError(
    'CONFIG_INVALID',
    `${service} at ${origin}: its TLS certificate is not trusted (${code}): ` +
      (ca
        ? `check that ${setting} is the PEM file of the CA that signed it`
        : `set ${setting} to the PEM file of the CA that signed it`),
    { cause: e, details: { origin, setting } },
  );
}
