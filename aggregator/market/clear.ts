import { z } from "#zod";
import { openTrade } from "../contract/open.js";
import { drawAlpha, touchActivity } from "../reputation/reputation.js";
import { reject } from "../state/errors.js";
import { defineHandler } from "../state/handler.js";
import { unfreeze } from "../state/ledger.js";
import type { Order, TradingEvent } from "../state/types.js";
import { type BookEntry, clearInterval } from "./clearing.js";
import { intervalStartMs } from "./orders.js";

export const intervalBodySchema = z.object({ interval: z.number().int().min(0).max(1e12) }).strict();

/**
 * Gate closure and clearing of one interval, sent by the aggregator when the interval starts. Every
 * order of the interval is closed: matched quantity becomes trades, the rest of its reservation is freed.
 */
export const clearIntervalTx = defineHandler({
  origin: "authority",
  schema: intervalBodySchema,
  apply(state, tx, ctx) {
    const { interval } = tx.body;
    if (state.intervals.get(interval)?.cleared)
      reject("ALREADY_CLEARED", `interval ${interval} is already cleared`);
    if (ctx.time < intervalStartMs(state, interval))
      reject("TOO_EARLY", `interval ${interval} starts at ${intervalStartMs(state, interval)}`, { interval });

    const ids = [...(state.ordersByInterval.get(interval) ?? [])];
    const orders: Order[] = ids.map((id) => state.orders.get(id)!);
    const bids: BookEntry[] = [];
    const asks: BookEntry[] = [];
    orders.forEach((o, ref) => {
      const rep = state.agents.get(o.agent)!.rep;
      const e = {
        ref,
        priceMcPerKwh: o.limitPriceMcPerKwh,
        energyWh: o.energyWh,
        active: rep.active,
        reputation: rep.reputation,
        seq: o.seq,
      };
      (o.side === "buy" ? bids : asks).push(e);
    });
    const result = clearInterval(bids, asks, state.params.pricing);

    const touched = new Set<string>();
    for (const o of orders) {
      unfreeze(state.wallets.get(o.wallet)!, o.reservedMc);
      state.orders.delete(o.id);
      touched.add(o.agent);
    }
    state.ordersByInterval.delete(interval);
    for (const a of touched) {
      const agent = state.agents.get(a)!;
      agent.openOrders = agent.openOrders.filter((id) => state.orders.has(id));
    }

    const events: TradingEvent[] = [];
    const traders = new Set<string>();
    result.matches.forEach((m, n) => {
      const bid = orders[m.bid];
      const ask = orders[m.ask];
      const opened = openTrade(state, n, bid, ask, m.energyWh, m.priceMcPerKwh);
      events.push(opened.event);
      traders.add(bid.agent);
      traders.add(ask.agent);
    });
    // silence decay is applied when an entity trades again (HO-TRAD §3.3), in a canonical order
    for (const a of [...traders].sort()) {
      const rep = state.agents.get(a)!.rep;
      touchActivity(rep, ctx.time, () => drawAlpha(state.digest, a, ctx.time), state.params.rep);
    }
    state.intervals.set(interval, {
      cleared: true,
      settled: false,
      clearingPriceMcPerKwh: result.clearingPriceMcPerKwh,
    });
    if (result.clearingPriceMcPerKwh !== null) state.lastClearingPriceMcPerKwh = result.clearingPriceMcPerKwh;
    events.push({
      type: "interval-cleared",
      interval,
      orders: orders.length,
      trades: result.matches.length,
      volumeWh: result.volumeWh,
      clearingPriceMcPerKwh: result.clearingPriceMcPerKwh,
    });
    return events;
  },
});
