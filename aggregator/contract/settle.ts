import { intervalBodySchema } from "../market/clear.js";
import { mulDivFloor } from "../state/arith.js";
import { reject } from "../state/errors.js";
import { defineHandler } from "../state/handler.js";
import type { Trade, TradingEvent, TradingState } from "../state/types.js";
import { type Closing, closeTrade } from "./close.js";

/**
 * Settlement of an interval's trades from metered evidence, sent by the aggregator once the interval
 * and its confirmation window have passed (the timeout is this transaction, never a clock).
 *
 * Delivered energy of a trade is the smaller of two pro-rata shares: the seller's metered export split
 * over everything it sold in the interval, and the buyer's metered import split over everything it
 * bought. A missing seller summary counts as no export; a missing buyer summary does not limit.
 */
export function meteredDeliveryWh(state: TradingState, trades: Trade[]): Map<string, number> {
  const sold = new Map<string, number>();
  const bought = new Map<string, number>();
  for (const t of trades) {
    sold.set(t.seller, (sold.get(t.seller) ?? 0) + t.energyWh);
    bought.set(t.buyer, (bought.get(t.buyer) ?? 0) + t.energyWh);
  }
  const out = new Map<string, number>();
  for (const t of trades) {
    const exp = state.meter.get(t.seller)?.get(t.interval)?.exportWh ?? 0;
    const imp = state.meter.get(t.buyer)?.get(t.interval)?.importWh;
    const totalSold = sold.get(t.seller)!;
    const totalBought = bought.get(t.buyer)!;
    const sellerSide = exp >= totalSold ? t.energyWh : mulDivFloor(t.energyWh, exp, totalSold);
    const buyerSide =
      imp === undefined || imp >= totalBought ? t.energyWh : mulDivFloor(t.energyWh, imp, totalBought);
    out.set(t.id, Math.min(sellerSide, buyerSide));
  }
  return out;
}

/**
 * The rule for an undisputed trade at settlement:
 * - nothing delivered: the seller defaulted; its deposit goes to the buyer, the payment is released;
 * - delivered but the buyer never confirmed: the buyer defaulted; its deposit goes to the seller;
 * - otherwise the buyer pays for min(metered, confirmed) energy pro rata, and the seller forfeits the
 *   undelivered share of its deposit.
 */
export function settlementOf(t: Trade, meteredWh: number): Closing {
  if (meteredWh > 0 && t.confirmedWh === null)
    return { paidWh: 0, buyerForfeitMc: t.depositMc, sellerForfeitMc: 0, outcome: "buyer-refused" };
  const q = Math.min(meteredWh, t.confirmedWh ?? 0, t.energyWh);
  const sellerForfeitMc = t.depositMc - mulDivFloor(t.depositMc, q, t.energyWh);
  const outcome = q === t.energyWh ? "delivered" : q === 0 ? "seller-no-show" : "partial";
  return { paidWh: q, buyerForfeitMc: 0, sellerForfeitMc, outcome };
}

export const settleDueTx = defineHandler({
  origin: "authority",
  schema: intervalBodySchema,
  apply(state, tx, ctx) {
    const { interval } = tx.body;
    const iv = state.intervals.get(interval);
    if (!iv?.cleared) reject("NOT_CLEARED", `interval ${interval} has not been cleared`, { interval });
    if (iv.settled) reject("ALREADY_SETTLED", `interval ${interval} is already settled`, { interval });
    const due = (interval + 1) * state.params.intervalMs + state.params.confirmWindowMs;
    if (ctx.time < due) reject("TOO_EARLY", `interval ${interval} settles at ${due}`, { interval, due });

    const ids = [...(state.tradesByInterval.get(interval) ?? [])].sort();
    const trades = ids.map((id) => state.trades.get(id)!);
    const metered = meteredDeliveryWh(state, trades);
    const events: TradingEvent[] = [];
    for (const t of trades) {
      // disputed trades wait for the aggregator's ruling
      if (t.status !== "open") continue;
      events.push(closeTrade(state, t, settlementOf(t, metered.get(t.id)!), ctx.time));
    }
    iv.settled = true;
    events.push({ type: "interval-settled", interval, closed: events.length });
    return events;
  },
});
