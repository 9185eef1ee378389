import { z } from "#zod";
import type { ExecutedBlock } from "../node/node.js";

/**
 * What the ledger did, as this aggregator executed it: counters since the process started (the blocks
 * replayed from its own store at start included, so a restart does not empty the dashboard), the market
 * of recent intervals and the latest trades, settlements and loans. Fed one executed block at a time;
 * keeps bounded memory.
 */

const intervalCleared = z.object({
  type: z.literal("interval-cleared"),
  interval: z.number(),
  orders: z.number(),
  trades: z.number(),
  volumeWh: z.number(),
  clearingPriceMcPerKwh: z.number().nullable(),
});
const matched = z.object({
  type: z.literal("matched"),
  tradeId: z.string(),
  interval: z.number(),
  buyer: z.string(),
  seller: z.string(),
  energyWh: z.number(),
  priceMcPerKwh: z.number(),
  paymentMc: z.number(),
});
const tradeClosed = z.object({
  type: z.literal("trade-closed"),
  tradeId: z.string(),
  outcome: z.string(),
  paidWh: z.number(),
  paidMc: z.number(),
  buyer: z.string(),
  seller: z.string(),
});
const creditEvent = z.object({
  type: z.string().startsWith("credit."),
  loanId: z.string(),
  amount: z.number().optional(),
  principal: z.number().optional(),
  borrower: z.string().optional(),
});

export interface IntervalMarket {
  interval: number;
  orders: number;
  trades: number;
  volumeWh: number;
  /** null when nothing crossed */
  clearingPriceMcPerKwh: number | null;
  /** block time of the clearing */
  time: number;
}

export type RecentEvent =
  | ({ kind: "trade"; time: number } & Omit<z.infer<typeof matched>, "type">)
  | ({ kind: "settlement"; time: number } & Omit<z.infer<typeof tradeClosed>, "type">)
  | {
      kind: "loan";
      time: number;
      event: string;
      loanId: string;
      amountMc: number | null;
      borrower: string | null;
    };

export const MAX_INTERVALS = 96;
export const MAX_RECENT = 40;

export class LedgerActivity {
  /** executed blocks, and those that were decided live (not replayed) */
  blocks = 0;
  liveBlocks = 0;
  /** round of the last executed block */
  round = -1;
  /** node clock when the last live block committed; null before the first */
  lastLiveCommitAt: number | null = null;
  readonly applied = new Map<string, number>();
  /** ledger refusals (the state machine said no), by transaction type and code */
  readonly refused = new Map<string, number>();
  readonly events = new Map<string, number>();
  tradedWh = 0;
  tradedMc = 0;
  readonly settlements = new Map<string, number>();
  readonly intervals: IntervalMarket[] = [];
  readonly recent: RecentEvent[] = [];

  constructor(private readonly onLatency?: (seconds: number) => void) {}

  add(b: ExecutedBlock): void {
    this.blocks += 1;
    this.round = b.round;
    if (!b.replayed) {
      this.liveBlocks += 1;
      this.lastLiveCommitAt = b.at;
      // From the proposer's block time to the commit here: includes the two clocks' skew.
      this.onLatency?.(Math.max(0, b.at - b.time) / 1000);
    }
    for (const a of b.applied) {
      if (!a.result.ok) {
        bump(this.refused, `${a.type}\u0000${a.result.code}`);
        continue;
      }
      bump(this.applied, a.type);
      for (const e of a.result.events ?? []) this.event(e, b.time);
    }
  }

  private event(e: unknown, time: number): void {
    const type = (e as { type?: unknown })?.type;
    if (typeof type !== "string") return;
    bump(this.events, type);
    if (type === "interval-cleared") {
      const p = intervalCleared.safeParse(e);
      if (!p.success) return;
      const { type: _, ...m } = p.data;
      const i = this.intervals.findIndex((x) => x.interval === m.interval);
      if (i >= 0) this.intervals.splice(i, 1);
      this.intervals.push({ ...m, time });
      this.intervals.sort((a, b) => a.interval - b.interval);
      if (this.intervals.length > MAX_INTERVALS)
        this.intervals.splice(0, this.intervals.length - MAX_INTERVALS);
    } else if (type === "matched") {
      const p = matched.safeParse(e);
      if (!p.success) return;
      const { type: _, ...m } = p.data;
      this.tradedWh += m.energyWh;
      this.tradedMc += m.paymentMc;
      this.remember({ kind: "trade", time, ...m });
    } else if (type === "trade-closed") {
      const p = tradeClosed.safeParse(e);
      if (!p.success) return;
      const { type: _, ...m } = p.data;
      bump(this.settlements, m.outcome);
      this.remember({ kind: "settlement", time, ...m });
    } else if (type.startsWith("credit.")) {
      const p = creditEvent.safeParse(e);
      if (!p.success) return;
      this.remember({
        kind: "loan",
        time,
        event: type.slice("credit.".length),
        loanId: p.data.loanId,
        amountMc: p.data.amount ?? p.data.principal ?? null,
        borrower: p.data.borrower ?? null,
      });
    }
  }

  private remember(e: RecentEvent): void {
    this.recent.push(e);
    if (this.recent.length > MAX_RECENT) this.recent.splice(0, this.recent.length - MAX_RECENT);
  }

  /** Refusals as `{type, code, count}` rows. */
  refusals(): { type: string; code: string; count: number }[] {
    return [...this.refused].map(([k, count]) => {
      const [type, code] = k.split("\u0000");
      return { type, code, count };
    });
  }
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
