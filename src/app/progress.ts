/**
 * Pure progress formatting for `resync --follow`: a bar with done/total, rate (EWMA, msg/s) and ETA.
 */

export interface ProgressSample {
  atMs: number;
  /** messages still to consume (lag summed over the partitions being followed) */
  remaining: number;
}

export class ProgressMeter {
  private readonly startRemaining: number;
  private last: ProgressSample;
  private rate: number | undefined;
  private readonly alpha: number;

  constructor(first: ProgressSample, opts: { alpha?: number } = {}) {
    this.startRemaining = Math.max(0, first.remaining);
    this.last = first;
    this.alpha = opts.alpha ?? 0.3;
  }

  /** Adds a sample; returns the current view. */
  update(s: ProgressSample): ProgressView {
    const dt = (s.atMs - this.last.atMs) / 1000;
    if (dt > 0) {
      const instant = Math.max(0, (this.last.remaining - s.remaining) / dt);
      this.rate = this.rate === undefined ? instant : this.alpha * instant + (1 - this.alpha) * this.rate;
    }
    this.last = s;
    return this.view();
  }

  view(): ProgressView {
    const total = Math.max(this.startRemaining, this.last.remaining);
    const remaining = Math.max(0, this.last.remaining);
    const done = total - remaining;
    const etaSeconds = remaining === 0 ? 0 : this.rate && this.rate > 0 ? remaining / this.rate : undefined;
    return { done, total, remaining, rate: this.rate, etaSeconds };
  }
}

export interface ProgressView {
  done: number;
  total: number;
  remaining: number;
  /** messages per second; undefined before the second sample */
  rate: number | undefined;
  /** undefined when not computable (no progress yet) */
  etaSeconds: number | undefined;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatRate(rate: number | undefined): string {
  if (rate === undefined) return '- msg/s';
  if (rate >= 10_000) return `${(rate / 1000).toFixed(1)}k msg/s`;
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} msg/s`;
}

/** `[#########-----------]  45% 450/1000  12.3 msg/s  ETA 00:44` */
export function formatProgress(v: ProgressView, width = 30): string {
  const ratio = v.total === 0 ? 1 : Math.min(1, v.done / v.total);
  const filled = Math.round(ratio * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const pct = `${Math.floor(ratio * 100)}`.padStart(3);
  return `${bar} ${pct}% ${v.done}/${v.total}  ${formatRate(v.rate)}  ETA ${formatDuration(v.etaSeconds)}`;
}
