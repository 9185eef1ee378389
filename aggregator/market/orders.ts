import { cancelOrderBodySchema, orderBodySchema } from "../../protocol/messages/trading.js";
import { bpsOf, costMc, getOrInsert } from "../state/arith.js";
import type { TradingParams } from "../state/config.js";
import { reject } from "../state/errors.js";
import { defineHandler } from "../state/handler.js";
import { freeze, getAgent, ownedWallet, requireAvailable, unfreeze } from "../state/ledger.js";
import { recentBestExportWh } from "../state/meter.js";
import type { Order, TradingState } from "../state/types.js";

/**
 * What an order freezes when it is accepted: a buyer the payment at its limit price plus its deposit, a
 * seller its deposit at the price cap (a uniform price can exceed the seller's ask, so the deposit at
 * the clearing price is only bounded by the cap). Every later trade obligation fits inside it.
 */
export function orderReservation(p: TradingParams, side: "buy" | "sell", energyWh: number, limit: number) {
  if (side === "buy") {
    const cost = costMc(energyWh, limit);
    const deposit = bpsOf(cost, p.depositBps);
    return { deposit, reserved: cost + deposit };
  }
  const deposit = bpsOf(costMc(energyWh, p.maxPriceMcPerKwh), p.depositBps);
  return { deposit, reserved: deposit };
}

export function intervalStartMs(state: TradingState, interval: number): number {
  return interval * state.params.intervalMs;
}

export const placeOrder = defineHandler({
  origin: "agent",
  schema: orderBodySchema,
  apply(state, tx, ctx) {
    const b = tx.body;
    const p = state.params;
    const agent = getAgent(state, tx.sender);
    if (state.blacklist.has(agent.id))
      reject("BLACKLISTED", `agent ${agent.id} is blacklisted`, { agent: agent.id });
    const w = ownedWallet(state, b.wallet, agent.id);
    if (state.intervals.get(b.interval)?.cleared || ctx.time >= intervalStartMs(state, b.interval))
      reject("INTERVAL_CLOSED", `interval ${b.interval} no longer takes orders`, { interval: b.interval });
    const current = Math.floor(ctx.time / p.intervalMs);
    if (b.interval > current + p.maxIntervalsAhead)
      reject(
        "INTERVAL_TOO_FAR",
        `interval ${b.interval} is more than ${p.maxIntervalsAhead} intervals ahead`,
      );
    if (b.energyWh < p.minEnergyWh || b.energyWh > p.maxEnergyWh)
      reject("ENERGY_OUT_OF_RANGE", `energy ${b.energyWh} Wh outside [${p.minEnergyWh}, ${p.maxEnergyWh}]`);
    if (b.limitPriceMcPerKwh > p.maxPriceMcPerKwh)
      reject(
        "PRICE_OUT_OF_RANGE",
        `limit ${b.limitPriceMcPerKwh} mc/kWh above the cap ${p.maxPriceMcPerKwh}`,
      );
    let offeredWh = b.energyWh;
    for (const id of agent.openOrders) {
      const o = state.orders.get(id)!;
      if (o.interval !== b.interval) continue;
      if (o.side !== b.side)
        reject("SELF_TRADE", `agent already has a ${o.side} order in interval ${b.interval}`);
      offeredWh += o.energyWh;
    }
    if (b.side === "sell") {
      const best = recentBestExportWh(state, agent.id, b.interval);
      if (offeredWh * 100 > best * p.exportPlausibilityPct)
        reject("EXPORT_NOT_PLAUSIBLE", `offering ${offeredWh} Wh, best recent interval export ${best} Wh`, {
          offeredWh,
          bestExportWh: best,
        });
    }
    const { deposit, reserved } = orderReservation(p, b.side, b.energyWh, b.limitPriceMcPerKwh);
    if (deposit > b.deposit.maxDepositMc)
      reject(
        "DEPOSIT_NOT_AUTHORISED",
        `deposit ${deposit} mc exceeds the authorised ${b.deposit.maxDepositMc} mc`,
      );
    requireAvailable(w, reserved);

    freeze(w, reserved);
    const order: Order = {
      id: tx.id,
      agent: agent.id,
      wallet: w.address,
      side: b.side,
      interval: b.interval,
      energyWh: b.energyWh,
      limitPriceMcPerKwh: b.limitPriceMcPerKwh,
      reservedMc: reserved,
      seq: state.seq,
    };
    state.orders.set(order.id, order);
    getOrInsert(state.ordersByInterval, order.interval, () => new Set<string>()).add(order.id);
    agent.openOrders.push(order.id);
    return [{ type: "order-accepted", orderId: order.id, agent: agent.id, reservedMc: reserved }];
  },
});

export function removeOrder(state: TradingState, o: Order): void {
  unfreeze(state.wallets.get(o.wallet)!, o.reservedMc);
  state.orders.delete(o.id);
  const set = state.ordersByInterval.get(o.interval);
  set?.delete(o.id);
  // an empty entry would make a live replica differ from one restored from a snapshot
  if (set?.size === 0) state.ordersByInterval.delete(o.interval);
  const agent = state.agents.get(o.agent)!;
  const k = agent.openOrders.indexOf(o.id);
  if (k >= 0) agent.openOrders.splice(k, 1);
}

export const cancelOrder = defineHandler({
  origin: "agent",
  schema: cancelOrderBodySchema,
  apply(state, tx, ctx) {
    const o = state.orders.get(tx.body.orderId);
    if (!o) reject("UNKNOWN_ORDER", `no open order ${tx.body.orderId}`, { orderId: tx.body.orderId });
    if (o.agent !== tx.sender) reject("UNAUTHORIZED", `order ${o.id} belongs to another agent`);
    if (ctx.time >= intervalStartMs(state, o.interval))
      reject("INTERVAL_CLOSED", `interval ${o.interval} has started; the order can no longer be cancelled`);
    removeOrder(state, o);
    return [{ type: "order-cancelled", orderId: o.id }];
  },
});
