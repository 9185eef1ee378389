/**
 * How many ledger transactions one identity may put through this aggregator per market interval:
 * every one admitted stays in the ledger of every replica for good, so schema-valid junk is bounded
 * here, before it is stored or proposed. Pure: the caller passes the aggregator's clock (never the
 * envelope's own timestamp, which its sender chooses).
 */
export class TxQuota {
  private interval = Number.NaN;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly perInterval: number,
    private readonly intervalMs: number,
  ) {}

  admit(sender: string, now: number): { code: "TX_QUOTA"; reason: string } | undefined {
    const interval = Math.floor(now / this.intervalMs);
    if (interval !== this.interval) {
      this.interval = interval;
      this.used.clear();
    }
    const n = this.used.get(sender) ?? 0;
    if (n >= this.perInterval)
      return {
        code: "TX_QUOTA",
        reason: `${sender} has sent ${n} ledger transactions in market interval ${interval} (at most ${this.perInterval})`,
      };
    this.used.set(sender, n + 1);
    return undefined;
  }
}
