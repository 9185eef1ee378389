/**
 * "Logged once per burst, not once per message": a flood of refusals of one kind from one source gives
 * one log line when it starts; the rest are only counted until the source has been quiet for `quietMs`,
 * after which the next refusal starts a new burst (and a new line). Pure: the caller passes the time.
 */
export interface Burst {
  startedAt: number;
  lastAt: number;
  /** refusals in this burst so far, the first included */
  count: number;
}

export class BurstLog {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly quietMs = 10_000,
    /** sources remembered at most; the quiet ones are forgotten first */
    private readonly maxKeys = 10_000,
  ) {}

  /**
   * Notes one refusal of kind `key` (say `RATE_LIMITED:agent-7`) at `now`. Returns the burst it ended,
   * when this refusal starts a new one (log a line then), or undefined while a burst goes on.
   */
  note(key: string, now: number): { previous: number } | undefined {
    const b = this.bursts.get(key);
    if (b !== undefined && now - b.lastAt <= this.quietMs) {
      b.lastAt = now;
      b.count += 1;
      return undefined;
    }
    if (b === undefined && this.bursts.size >= this.maxKeys) this.forgetQuiet(now);
    this.bursts.set(key, { startedAt: now, lastAt: now, count: 1 });
    return { previous: b?.count ?? 0 };
  }

  /** The burst under way for `key`, if any. */
  current(key: string, now: number): Burst | undefined {
    const b = this.bursts.get(key);
    return b !== undefined && now - b.lastAt <= this.quietMs ? { ...b } : undefined;
  }

  private forgetQuiet(now: number): void {
    for (const [k, b] of this.bursts) if (now - b.lastAt > this.quietMs) this.bursts.delete(k);
    // Still full (a flood from many sources at once): forget the oldest half rather than grow.
    if (this.bursts.size >= this.maxKeys) {
      const keys = [...this.bursts.keys()];
      for (const k of keys.slice(0, Math.ceil(keys.length / 2))) this.bursts.delete(k);
    }
  }
}
