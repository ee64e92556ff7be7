/**
 * When the original would have told OpenCell (docs/behaviour.md T2, T5): its listeners queued
 * `terminate_subscription` and `terminate_service` as queue_job jobs with an ETA, so a future end date reached
 * OpenCell only on that day (docs/operations.md "Held terminations").
 *
 * - T2 (`terminate_subscription`): when the end date is after today, at that day 00:00 + 5 minutes.
 * - T5 (`terminate_service`): when the line's end date is after today, at that day 00:00.
 * - A date of today or earlier: at once. (The original also waited 5 minutes for T2 then; that delay only put the
 *   subscription's termination after its lines', which the projector orders itself, as the T3/T4 ETAs.)
 *
 * Odoo's `date.today()` and queue_job's naive ETAs are the server's clock, which Odoo runs in UTC: days are UTC days.
 * Pure: the caller gives the clock.
 */
import type { IsoDate } from '../projection/views';

const DAY_MS = 86_400_000;
/** The original's ETA after the end day's midnight for a subscription termination (T2). */
export const TERMINATE_SUBSCRIPTION_DELAY_MS = 300_000;

/** Epoch ms of `day` 00:00 UTC; null for a malformed day. */
export function dayStartMs(day: IsoDate): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The time before which an intent dated `day` must not reach OpenCell, or null (send it now): `day` 00:00 UTC plus
 * `delayMs` when `day` is after today (UTC) at `nowMs`.
 */
export function notBeforeForDay(day: IsoDate | null, nowMs: number, delayMs = 0): number | null {
  if (day === null) return null;
  const start = dayStartMs(day);
  if (start === null) return null;
  const todayStart = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return start > todayStart ? start + delayMs : null;
}
