/**
 * The HTTP transport under the OpenCell and Odoo clients: one request with a timeout, its body read as text, and
 * transport failures (timeout, network) told apart from answers. Each client maps a failure to its own typed error;
 * messages and causes pass through the client's scrubber, so no secret rides on them.
 */
import fetch, { type RequestInit, type Response } from 'node-fetch';
import { assertLeases } from '../core/call-lease';
import { childTraceparent, TRACEPARENT } from '../core/trace';

/** The `traceparent` header of a call made while working for a trace (src/core/trace.ts); none outside one. */
export function traceHeader(): Record<string, string> {
  const tp = childTraceparent();
  return tp ? { [TRACEPARENT]: tp } : {};
}

/** An error cause safe to log: name, scrubbed message, and the system code (ECONNRESET…) when there is one. */
export interface SafeCause {
  name: string;
  message: string;
  code?: string;
}

export class TransportFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    /** scrubbed: the system error code or message */
    readonly detail: string,
    readonly safeCause: SafeCause,
  ) {
    super(`${kind}: ${detail}`);
  }
}

export function safeCause(e: unknown, scrub: (s: string) => string): SafeCause {
  const err = e as { name?: string; message?: string; code?: string };
  const out: SafeCause = { name: String(err?.name ?? 'Error'), message: scrub(String(err?.message ?? e)) };
  if (err?.code) out.code = String(err.code);
  return out;
}

/** Sends the request; resolves with the response and its body, or rejects with a TransportFailure. */
export async function fetchText(
  url: string,
  init: Omit<RequestInit, 'signal'>,
  timeoutMs: number,
  scrub: (s: string) => string,
): Promise<{ res: Response; text: string }> {
  // a call under a fence lease leaves only while the lease is live (src/core/call-lease.ts): checked last, right
  // before node-fetch writes the request, nothing awaited in between
  assertLeases(() => `${init.method ?? 'GET'} ${new URL(url).pathname}`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // node-fetch's AbortSignal type predates the DOM one; they are compatible at run time.
    const res = await fetch(url, { ...init, signal: controller.signal as unknown as RequestInit['signal'] });
    const text = await res.text();
    return { res, text };
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'AbortError' || controller.signal.aborted)
      throw new TransportFailure('timeout', `after ${timeoutMs} ms`, safeCause(e, scrub));
    const detail = scrub(String((e as { code?: string }).code ?? (e as Error).message ?? e));
    throw new TransportFailure('network', detail, safeCause(e, scrub));
  } finally {
    clearTimeout(timer);
  }
}
