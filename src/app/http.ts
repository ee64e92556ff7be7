/**
 * The process's HTTP endpoints (node:http): `/healthz` (liveness: the process answers), `/readyz` (every
 * dependency check passes, each within a short timeout; JSON body with each check; 503 if any fails) and
 * `/metrics` (Prometheus text format).
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<string | void>;

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  checkTimeoutMs?: number;
  /** extra liveness information (roles, pid) */
  info?: Record<string, unknown>;
}

export interface OpsServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<{ ready: boolean; checks: CheckResult[] }> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<CheckResult> => {
      const t0 = Date.now();
      try {
        const detail = await withTimeout(check(), timeoutMs);
        return { name, ok: true, ms: Date.now() - t0, ...(detail ? { detail } : {}) };
      } catch (e) {
        return { name, ok: false, ms: Date.now() - t0, error: (e as Error).message };
      }
    }),
  );
  return { ready: results.every((r) => r.ok), checks: results };
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(text);
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const started = Date.now();
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    if (path === '/healthz')
      return send(res, 200, {
        status: 'ok',
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        ...opts.info,
      });
    if (path === '/readyz') {
      const r = await runChecks(opts.checks, opts.checkTimeoutMs ?? 2000);
      return send(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
    }
    if (path === '/metrics') return send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
    return send(res, 404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] });
  };
  const server = createServer((req, res) => {
    handler(req, res).catch((e) => send(res, 500, { error: (e as Error).message }));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
