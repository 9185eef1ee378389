import { rewardKey, rewardPeriodDueMs } from "../rewards/proof-of-flow.js";
import type { Tx } from "./handler.js";
import type { TradingState } from "./types.js";

/**
 * The system transactions that are due at `timeMs`: clearing at each interval's start, settlement after
 * its confirmation window, rewards after each period. Pure: the sequencer (or, later, the proposing
 * aggregator under consensus) calls it with its clock and submits the result like any other transaction.
 * Ids are deterministic, so a second submission is a harmless REPLAY.
 */
export function dueSystemTxs(state: TradingState, timeMs: number, proposer: string): Tx[] {
  const p = state.params;
  const out: Tx[] = [];
  const toClear = [...state.ordersByInterval.keys()]
    .filter((i) => i * p.intervalMs <= timeMs && !state.intervals.get(i)?.cleared)
    .sort((a, b) => a - b);
  for (const interval of toClear)
    out.push({ id: `sys:clear:${interval}`, type: "clear-interval", sender: proposer, body: { interval } });
  const toSettle = [...state.intervals.entries()]
    .filter(([i, s]) => s.cleared && !s.settled && (i + 1) * p.intervalMs + p.confirmWindowMs <= timeMs)
    .map(([i]) => i)
    .sort((a, b) => a - b);
  for (const interval of toSettle)
    out.push({ id: `sys:settle:${interval}`, type: "settle-due", sender: proposer, body: { interval } });
  const toReward = [...state.flow.keys()]
    .filter(
      (period) =>
        !state.rewardsPaid.has(rewardKey(period, proposer)) && rewardPeriodDueMs(state, period) <= timeMs,
    )
    .sort((a, b) => a - b);
  for (const period of toReward)
    out.push({
      id: `sys:reward:${period}:${proposer}`,
      type: "reward-period",
      sender: proposer,
      body: { period },
    });
  return out;
}
