/**
 * Thin adapter for Kafka Connect's REST API: apply connector configs idempotently
 * (`PUT /connectors/<name>/config`), read status, restart failed tasks.
 */
import fetch from 'node-fetch';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SyncError } from '../../domain/errors';
import { loadConnectorTemplate } from './connector-config';
import { packageRoot } from '../../core/package-root';
import { basicAuthHeaders, credentialsRefused, type BasicAuth } from '../basic-auth';
import { httpsAgent, untrustedCertificate } from '../rest-tls';

const CONNECT_SETTINGS = { username: 'CONNECT_USERNAME', password: 'CONNECT_PASSWORD' };

export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id?: string; trace?: string };
  tasks: { id: number; state: string; worker_id?: string; trace?: string }[];
}

async function call(
  method: string,
  url: string,
  body?: unknown,
  auth?: BasicAuth | null,
  ca?: string | null,
): Promise<{ status: number; json: unknown }> {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...basicAuthHeaders(auth) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeout: 15000,
      agent: httpsAgent(url, ca),
    });
  } catch (e) {
    const untrusted = untrustedCertificate(e, 'Kafka Connect', url, 'CONNECT_CA', ca);
    if (untrusted) throw untrusted;
    throw new SyncError(
      'NETWORK',
      `Kafka Connect at ${new URL(url).origin} is not reachable: ${(e as Error).message}`,
      {
        retriable: true,
      },
    );
  }
  if (res.status === 401 || res.status === 403)
    throw credentialsRefused('Kafka Connect', new URL(url).origin, res.status, CONNECT_SETTINGS, auth);
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

export class ConnectClient {
  constructor(
    private readonly baseUrl: string,
    private readonly auth: BasicAuth | null = null,
    /** CONNECT_CA: the PEM certificates to trust for https (null: the system's) */
    private readonly ca: string | null = null,
  ) {}

  private call(method: string, url: string, body?: unknown): ReturnType<typeof call> {
    return call(method, url, body, this.auth, this.ca);
  }

  async putConfig(name: string, config: Record<string, string>): Promise<'created' | 'updated'> {
    const r = await this.call('PUT', `${this.baseUrl}/connectors/${encodeURIComponent(name)}/config`, config);
    if (r.status === 201) return 'created';
    if (r.status === 200) return 'updated';
    const msg = (r.json as { message?: string } | null)?.message ?? JSON.stringify(r.json);
    throw new SyncError('CONFIG_INVALID', `Kafka Connect refused connector ${name} (${r.status}): ${msg}`);
  }

  async status(name: string): Promise<ConnectorStatus | null> {
    const r = await this.call('GET', `${this.baseUrl}/connectors/${encodeURIComponent(name)}/status`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new SyncError('INTERNAL', `Kafka Connect status ${name}: HTTP ${r.status}`);
    return r.json as ConnectorStatus;
  }

  async list(): Promise<string[]> {
    const r = await this.call('GET', `${this.baseUrl}/connectors`);
    return (r.json as string[]) ?? [];
  }

  async restart(name: string, onlyFailed = true): Promise<void> {
    const r = await this.call(
      'POST',
      `${this.baseUrl}/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=${onlyFailed}`,
    );
    if (r.status >= 300) throw new SyncError('INTERNAL', `Kafka Connect restart ${name}: HTTP ${r.status}`);
  }

  /** Pauses (`PUT …/pause`) or resumes (`PUT …/resume`) the connector and its tasks; Connect answers 202. */
  async setPaused(name: string, paused: boolean): Promise<void> {
    const action = paused ? 'pause' : 'resume';
    const r = await this.call('PUT', `${this.baseUrl}/connectors/${encodeURIComponent(name)}/${action}`);
    if (r.status >= 300) throw new SyncError('INTERNAL', `Kafka Connect ${action} ${name}: HTTP ${r.status}`);
  }

  async delete(name: string): Promise<void> {
    await this.call('DELETE', `${this.baseUrl}/connectors/${encodeURIComponent(name)}`);
  }

  /** Waits until the connector and all its tasks are RUNNING; throws with the task trace on FAILED. */
  async waitRunning(name: string, timeoutMs = 60000): Promise<ConnectorStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ConnectorStatus | null = null;
    while (Date.now() < deadline) {
      last = await this.status(name).catch(() => null);
      if (last) {
        const failed = [last.connector, ...last.tasks].find((s) => s.state === 'FAILED');
        if (failed)
          throw new SyncError('INTERNAL', `connector ${name} FAILED: ${(failed.trace ?? '').split('\n')[0]}`);
        if (
          last.connector.state === 'RUNNING' &&
          last.tasks.length > 0 &&
          last.tasks.every((t) => t.state === 'RUNNING')
        )
          return last;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new SyncError(
      'INTERNAL',
      `connector ${name} not RUNNING after ${timeoutMs} ms: ${JSON.stringify(last)}`,
    );
  }
}

/** `GET <path>` on Kafka Connect with the configured credentials: status and parsed body (other adapters' reads). */
export function connectGet(
  connectUrl: string,
  path: string,
  auth: BasicAuth | null = null,
  ca: string | null = null,
): Promise<{ status: number; json: unknown }> {
  return call('GET', `${connectUrl.replace(/\/$/, '')}${path}`, undefined, auth, ca);
}

/** The connector configs shipped in connectors/, by name (file name without .json), validated as string maps. */
export function connectorFiles(
  dir = join(packageRoot(), 'connectors'),
): { name: string; raw: Record<string, string> }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: basename(f, '.json'), raw: loadConnectorTemplate(join(dir, f)) }));
}
