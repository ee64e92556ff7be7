/**
 * Contiguous commit watermark for one partition whose messages are processed out of order (per-key concurrency).
 * The committable offset only advances over offsets that are all finished, so a crash never skips unfinished work
 * (the failure mode of resolving offsets out of order in kafkajs, tulios/kafkajs#1764). Pure.
 *
 * A fetched batch begins its offsets in increasing order, and most finish at once (a replay's skipped changes) or
 * nearly in order: the offsets are kept in that order in an array with a finished flag each, the watermark is the
 * first unfinished one, and a finish finds its offset by binary search. Numbers, not bigints: offsets are exact
 * below 2^53 (a partition taking a million records a second reaches that in 285 years); no Set, no BigInt per
 * offset (both were a replay's per-record garbage, issue 17 §2).
 */
export class OffsetTracker {
  /** begun offsets from `head` to `size`, increasing; those before `head` are finished and passed */
  private readonly offsets: number[] = [];
  private readonly finished: boolean[] = [];
  private head = 0;
  /** entries in use: the arrays keep their room when they start again (a replay's skipped record begins and
   * finishes alone, and would otherwise allocate a new backing store each time) */
  private size = 0;
  private pending = 0;
  /** the lowest offset not yet known to be finished (Kafka's "next offset to read") */
  private next: number | undefined;

  /** Registers an offset about to be processed (offsets must be registered in increasing order). */
  begin(offset: string | bigint): void {
    const o = offsetNumber(offset);
    const last = this.size > 0 ? this.offsets[this.size - 1] : undefined;
    if (last !== undefined && o <= last) {
      if (o === last) return; // begun already
      throw new RangeError(`offset ${o} begun after ${last}: offsets are begun in increasing order`);
    }
    this.next ??= o;
    this.offsets[this.size] = o;
    this.finished[this.size] = false;
    this.size++;
    this.pending++;
  }

  /** Marks an offset finished (processed, skipped or dead-lettered). */
  finish(offset: string | bigint): void {
    const i = this.indexOf(offsetNumber(offset));
    if (i < 0 || this.finished[i]) return;
    this.finished[i] = true;
    this.pending--;
    if (i === this.head) this.advance();
  }

  private indexOf(o: number): number {
    const offsets = this.offsets;
    // the common case: the watermark's own offset (a batch finished in order)
    if (this.head < this.size && offsets[this.head] === o) return this.head;
    let lo = this.head;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = offsets[mid];
      if (v === o) return mid;
      if (v < o) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private advance(): void {
    const { offsets, finished, size } = this;
    let h = this.head;
    while (h < size && finished[h]) h++;
    if (h === size) {
      // everything begun is finished: past the last one (over any gap), and the arrays start again
      this.next = Math.max(this.next ?? 0, offsets[h - 1] + 1);
      this.head = 0;
      this.size = 0;
      return;
    }
    // the lowest offset still pending (offsets can have gaps: compaction, transaction markers)
    this.next = Math.max(this.next ?? 0, offsets[h]);
    this.head = h;
    // drop the passed entries now and then, not on every finish
    if (h >= 1024 && h * 2 >= size) {
      offsets.copyWithin(0, h, size);
      finished.copyWithin(0, h, size);
      this.size = size - h;
      this.head = 0;
    }
  }

  /** The offset to commit (Kafka semantics: the next offset to read), or undefined if nothing finished yet. */
  committable(): string | undefined {
    return this.next === undefined ? undefined : String(this.next);
  }

  get inFlight(): number {
    return this.pending;
  }
}

function offsetNumber(offset: string | bigint): number {
  const o = Number(offset);
  if (!Number.isSafeInteger(o) || o < 0)
    throw new RangeError(`offset ${String(offset)} is not a Kafka offset below 2^53`);
  return o;
}
