/**
 * Contiguous commit watermark for one partition whose messages are processed out of order (per-key concurrency).
 * The committable offset only advances over offsets that are all finished, so a crash never skips unfinished work
 * (the failure mode of resolving offsets out of order in kafkajs, tulios/kafkajs#1764). Pure.
 */
export class OffsetTracker {
  private readonly pending = new Set<bigint>();
  private readonly done = new Set<bigint>();
  private next: bigint | undefined; // lowest offset not yet known to be finished

  /** Registers an offset about to be processed (offsets must be registered in increasing order). */
  begin(offset: string | bigint): void {
    const o = BigInt(offset);
    if (this.next === undefined) this.next = o;
    this.pending.add(o);
  }

  /** Marks an offset finished (processed, skipped or dead-lettered). */
  finish(offset: string | bigint): void {
    const o = BigInt(offset);
    if (!this.pending.delete(o)) return;
    this.done.add(o);
    this.advance();
  }

  private advance(): void {
    if (this.next === undefined) return;
    while (this.done.has(this.next)) {
      this.done.delete(this.next);
      this.next += 1n;
    }
    // Offsets can have gaps (compaction, transaction markers): skip to the lowest still pending.
    if (this.pending.size === 0 && this.done.size > 0) {
      let max = this.next;
      for (const d of this.done) if (d >= max) max = d + 1n;
      this.done.clear();
      this.next = max;
    } else if (!this.pending.has(this.next) && this.pending.size > 0) {
      let lowest: bigint | undefined;
      for (const p of this.pending) if (lowest === undefined || p < lowest) lowest = p;
      if (lowest !== undefined && lowest > this.next) {
        for (const d of [...this.done]) if (d < lowest) this.done.delete(d);
        this.next = lowest;
      }
    }
  }

  /** The offset to commit (Kafka semantics: the next offset to read), or undefined if nothing finished yet. */
  committable(): string | undefined {
    return this.next === undefined ? undefined : this.next.toString();
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
