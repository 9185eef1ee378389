import { meterSummaryBodySchema } from "../../protocol/messages/trading.js";
import { getOrInsert } from "./arith.js";
import { reject } from "./errors.js";
import { defineHandler, type TradingModule } from "./handler.js";
import { getAgent } from "./ledger.js";
import type { MeterSummary, TradingState } from "./types.js";

/**
 * Metered energy per agent and interval, as the state machine sees it: the evidence for settlement and
 * for the plausibility of sell offers. Only a bounded window per agent is kept.
 */

export const meterModule: TradingModule = {
  name: "meter",
  handlers: {
    "meter-summary": defineHandler({
      origin: "agent",
      schema: meterSummaryBodySchema,
      apply(state, tx, ctx) {
        const b = tx.body;
        getAgent(state, tx.sender);
        const end = (b.interval + 1) * state.params.intervalMs;
        if (ctx.time < end)
          reject("TOO_EARLY", `interval ${b.interval} has not ended yet`, { interval: b.interval });
        if (state.intervals.get(b.interval)?.settled)
          reject("INTERVAL_CLOSED", `interval ${b.interval} is already settled`, { interval: b.interval });
        if (state.meter.get(tx.sender)?.has(b.interval))
          reject("DUPLICATE_METER_SUMMARY", `meter summary for interval ${b.interval} already recorded`);
        const m = getOrInsert(state.meter, tx.sender, () => new Map<number, MeterSummary>());
        m.set(b.interval, { importWh: b.importWh, exportWh: b.exportWh });
        // keep the window the plausibility check looks at, plus unsettled intervals
        const keepFrom = b.interval - state.params.exportLookbackIntervals - 1;
        for (const i of m.keys()) if (i < keepFrom && isSettledOrIdle(state, i)) m.delete(i);
        return [{ type: "meter-recorded", agent: tx.sender, interval: b.interval }];
      },
    }),
  },
};

function isSettledOrIdle(state: TradingState, interval: number): boolean {
  const s = state.intervals.get(interval);
  return s === undefined || s.settled;
}

/** The best interval export among the `lookback` intervals before `interval`. */
export function recentBestExportWh(state: TradingState, agent: string, interval: number): number {
  const m = state.meter.get(agent);
  if (!m) return 0;
  let best = 0;
  const from = interval - state.params.exportLookbackIntervals;
  for (const [i, s] of m) if (i >= from && i < interval && s.exportWh > best) best = s.exportWh;
  return best;
}
