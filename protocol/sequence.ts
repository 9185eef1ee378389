/**
 * Sequence numbers that never go back, even when a sender's store does (a backup restored, a WAL lost
 * after kill -9, a power cut under synchronous=NORMAL): a floor taken from the clock, 1000 numbers per
 * millisecond. A store opened at time t never numbers below t × 1000, which is above every number it
 * handed out before t as long as it spent fewer than 1000 per millisecond on average; a sender's clock
 * that runs behind is caught by the receiver's EQUIVOCATION check instead (docs/PROTOCOL.md).
 */
export const SEQ_PER_MS = 1000;

/** The floor at `nowMs`: floor(nowMs) × 1000 (a safe integer until the year 2255). */
export function seqFloor(nowMs: number): number {
  return Math.floor(nowMs) * SEQ_PER_MS;
}

/**
 * A counter for numbers that need only rise (login tokens, an aggregator's receipts): each is above the
 * last and at least the floor, so a restart needs nothing persisted.
 */
export class RisingSequence {
  private last: number;

  constructor(
    private readonly now: () => number,
    after = 0,
  ) {
    this.last = after;
  }

  next(): number {
    this.last = Math.max(this.last + 1, seqFloor(this.now()));
    return this.last;
  }

  /** Moves the counter past `seq` (e.g. a value persisted earlier). */
  advancePast(seq: number): void {
    this.last = Math.max(this.last, seq);
  }

  get current(): number {
    return this.last;
  }
}
