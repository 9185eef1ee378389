import type { Announcement } from "../../protocol/messages/trading.js";
import type { TradingState } from "../state/types.js";

/**
 * Seed 000's flow: before an interval the aggregator tells its sellers the aggregate demand and a
 * reference price (the last clearing price, or the configured one before the first clearing). Pure.
 */
export function announceInterval(state: TradingState, interval: number): Announcement {
  let demandWh = 0;
  let supplyWh = 0;
  const buyers = new Set<string>();
  for (const id of state.ordersByInterval.get(interval) ?? []) {
    const o = state.orders.get(id)!;
    if (o.side === "buy") {
      demandWh += o.energyWh;
      buyers.add(o.agent);
    } else supplyWh += o.energyWh;
  }
  return {
    interval,
    demandWh,
    supplyWh,
    buyers: buyers.size,
    referencePriceMcPerKwh: state.lastClearingPriceMcPerKwh ?? state.params.referencePriceMcPerKwh,
  };
}
