/**
 * The process's HTTP endpoints (node:http): `/healthz` (liveness: the process answers), `/readyz` (every
 * dependency check passes, each within a short timeout; JSON body with each check; 503 if any fails) and
 * `/metrics` (Prometheus text format). Opt-in (`INVOICE_PDF_ROUTE`): the original's `/web/binary/download_invoice`
 * (docs/parity.md I-pdf), behind a bearer token since it serves customer invoices.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * A readiness check: resolves (with an optional detail) when it passes, rejects when it fails. `{ degraded }`
 * passes but reports the process degraded: it works as it should while a dependency is failing (a partition
 * blocked on an OpenCell outage waits for it, src/app/blocked-partitions.ts) — /readyz still answers 200, since a
 * probe failing would only move or restart a process that cannot do better.
 */
export type ReadinessCheck = () => Promise<string | void | { degraded: string }>;

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
  /** passed, degraded: `detail` says why */
  degraded?: boolean;
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
  /** The invoice PDF route; absent = off (404, as any unknown path). */
  invoicePdf?: InvoicePdfRoute;
}

export interface InvoicePdfRoute {
  /** The bearer token a caller must present. */
  token: string;
  /** The invoice's PDF bytes, or null when OpenCell has no such invoice (or no PDF for it). */
  fetchPdf(invoiceNumber: string): Promise<Buffer | null>;
  /** Told of a failed fetch (the caller only gets a generic 502). */
  onError?(e: Error): void;
}

export const INVOICE_PDF_PATH = '/web/binary/download_invoice';
/** OpenCell invoice numbers (e.g. `SC-2024-0000001`): no quote, slash or space, so it is safe in a filename too. */
const INVOICE_NUMBER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  // Compare digests, so the comparison takes the same time whatever the length.
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

async function serveInvoicePdf(req: IncomingMessage, res: ServerResponse, route: InvoicePdfRoute) {
  if (!tokenMatches(req.headers.authorization, route.token)) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    return send(res, 401, { error: 'unauthorised' });
  }
  const params = new URL(req.url ?? '/', 'http://ops').searchParams;
  const invoiceNumber = params.get('invoice_number');
  if (invoiceNumber === null || invoiceNumber === '')
    return send(res, 400, { error: 'invoice_number is required' });
  if (!INVOICE_NUMBER.test(invoiceNumber))
    return send(res, 400, {
      error: 'invoice_number is malformed (letters, digits, "_", "." and "-", up to 64)',
    });
  let pdf: Buffer | null;
  try {
    pdf = await route.fetchPdf(invoiceNumber);
  } catch (e) {
    // The error text may name OpenCell's address or user: the caller gets none of it.
    route.onError?.(e as Error);
    return send(res, 502, { error: 'OpenCell did not answer the PDF request' });
  }
  if (!pdf)
    return send(res, 404, { error: 'no such invoice, or it has no PDF', invoice_number: invoiceNumber });
  res.writeHead(200, {
    'Content-Type': 'application/pdf',
    'Content-Length': pdf.length,
    'Content-Disposition': `attachment; filename="${invoiceNumber}.pdf"`,
    'Cache-Control': 'no-store',
  });
  res.end(pdf);
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
): Promise<{ ready: boolean; degraded: boolean; checks: CheckResult[] }> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<CheckResult> => {
      const t0 = Date.now();
      try {
        const detail = await withTimeout(check(), timeoutMs);
        if (typeof detail === 'object')
          return { name, ok: true, ms: Date.now() - t0, degraded: true, detail: detail.degraded };
        return { name, ok: true, ms: Date.now() - t0, ...(detail ? { detail } : {}) };
      } catch (e) {
        return { name, ok: false, ms: Date.now() - t0, error: (e as Error).message };
      }
    }),
  );
  return { ready: results.every((r) => r.ok), degraded: results.some((r) => r.degraded), checks: results };
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
      const status = !r.ready ? 'not ready' : r.degraded ? 'degraded' : 'ready';
      return send(res, r.ready ? 200 : 503, { status, checks: r.checks });
    }
    if (path === '/metrics') return send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
    if (path === INVOICE_PDF_PATH && opts.invoicePdf) return serveInvoicePdf(req, res, opts.invoicePdf);
    return send(res, 404, {
      error: 'not found',
      endpoints: ['/healthz', '/readyz', '/metrics', ...(opts.invoicePdf ? [INVOICE_PDF_PATH] : [])],
    });
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
