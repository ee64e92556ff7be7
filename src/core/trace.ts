/**
 * W3C trace context (`traceparent`, https://www.w3.org/TR/trace-context/) carried through the pipeline so one Odoo
 * change can be followed in the logs: change event → intent message header → projector → OpenCell call header →
 * sync event header; and an OpenCell invoice: poller → invoice event header → loader → Odoo call header.
 *
 * The context of the work in progress lives in an AsyncLocalStorage: the logger adds its `traceId` to every line and
 * the HTTP clients send it, without it being passed through every function. A trace started by the pipeline has an
 * id derived from what it is about (the change's position in the WAL, the invoice number), so a replay of the same
 * change or invoice carries the same trace id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { hash, randomFillSync } from 'node:crypto';

export const TRACEPARENT = 'traceparent';

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero */
  traceId: string;
  /** 16 lowercase hex digits: the span that caused the current work */
  spanId: string;
}

const storage = new AsyncLocalStorage<TraceContext>();
const FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** A valid `traceparent` (version 00) → its context; anything else → null (a bad header never fails the work). */
export function parseTraceparent(value: string | Buffer | null | undefined): TraceContext | null {
  if (value === null || value === undefined) return null;
  const m = FORMAT.exec(value.toString().trim().toLowerCase());
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return null;
  return { traceId: m[1], spanId: m[2] };
}

export function formatTraceparent(c: TraceContext): string {
  return `00-${c.traceId}-${c.spanId}-01`;
}

/** A new trace whose ids are derived from `seed` (the same seed, the same trace). */
export function traceFromSeed(seed: string): TraceContext {
  const h = hash('sha256', seed, 'hex'); // one-shot: no Hash object per change
  return { traceId: h.slice(0, 32), spanId: h.slice(32, 48) };
}

/** Runs `fn` with `ctx` as the current trace (without one, `fn` runs in the caller's context). */
export function withTrace<T>(ctx: TraceContext | null | undefined, fn: () => T): T {
  return ctx ? storage.run(ctx, fn) : fn();
}

/** Runs `fn` outside any trace (work that is no single message's, such as a timer that gathers several). */
export function withoutTrace<T>(fn: () => T): T {
  return storage.exit(fn);
}

export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** The current trace's `traceparent` (for a message that hands the work on), or null outside a trace. */
export function currentTraceparent(): string | null {
  const c = storage.getStore();
  return c ? formatTraceparent(c) : null;
}

/**
 * Random span ids, 8 bytes each, cut from a pool filled 512 ids at a time: one call to the random source per 512
 * outgoing calls instead of one each (issue 17: the per-call random fill showed in the projector's profile).
 */
const SPAN_BYTES = 8;
const spanPool = Buffer.alloc(SPAN_BYTES * 512);
let spanAt = spanPool.length;

/** A new random span id (16 hex digits, not all zero). */
export function randomSpanId(): string {
  for (;;) {
    if (spanAt >= spanPool.length) {
      randomFillSync(spanPool);
      spanAt = 0;
    }
    const id = spanPool.toString('hex', spanAt, spanAt + SPAN_BYTES);
    spanAt += SPAN_BYTES;
    if (id !== '0000000000000000') return id;
  }
}

/** A `traceparent` for an outgoing call: the current trace id with a span id of the call's own. */
export function childTraceparent(): string | null {
  const c = storage.getStore();
  return c ? formatTraceparent({ traceId: c.traceId, spanId: randomSpanId() }) : null;
}
