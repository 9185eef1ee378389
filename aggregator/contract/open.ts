import { impactFactor } from "../reputation/reputation.js";
import { bpsOf, costMc, getOrInsert } from "../state/arith.js";
import { freeze } from "../state/ledger.js";
import type { Order, Trade, TradingEvent, TradingState } from "../state/types.js";

/** Trade ids sort in creation order (settlement iterates them in that order on every replica). */
export function tradeId(interval: number, n: number): string {
  return `t${interval}-${String(n).padStart(8, "0")}`;
}

/**
 * HO-TRAD §3.2.3 steps (1) and (2): on a match, freeze the buyer's payment and both deposits. The
 * caller has already released the orders' reservations, which cover these amounts.
 */
export function openTrade(
  state: TradingState,
  n: number,
  bid: Order,
  ask: Order,
  energyWh: number,
  priceMcPerKwh: number,
): { trade: Trade; event: TradingEvent } {
  const buyerW = state.wallets.get(bid.wallet)!;
  const sellerW = state.wallets.get(ask.wallet)!;
  const paymentMc = costMc(energyWh, priceMcPerKwh);
  const depositMc = bpsOf(paymentMc, state.params.depositBps);
  const trade: Trade = {
    id: tradeId(bid.interval, n),
    interval: bid.interval,
    buyOrder: bid.id,
    sellOrder: ask.id,
    buyer: bid.agent,
    seller: ask.agent,
    buyerWallet: bid.wallet,
    sellerWallet: ask.wallet,
    energyWh,
    priceMcPerKwh,
    paymentMc,
    depositMc,
    // B is the balance before the trade (HO-TRAD's impact factor)
    xiBuyer: impactFactor(paymentMc, buyerW.balance),
    xiSeller: impactFactor(paymentMc, sellerW.balance),
    status: "open",
    confirmedWh: null,
    dispute: null,
  };
  freeze(buyerW, paymentMc + depositMc);
  freeze(sellerW, depositMc);
  state.trades.set(trade.id, trade);
  getOrInsert(state.tradesByInterval, trade.interval, () => new Set<string>()).add(trade.id);
  // one event per trade; the process turns it into an encrypted fill for each party
  return {
    trade,
    event: {
      type: "matched",
      tradeId: trade.id,
      interval: trade.interval,
      buyer: bid.agent,
      seller: ask.agent,
      buyOrder: bid.id,
      sellOrder: ask.id,
      energyWh,
      priceMcPerKwh,
      paymentMc,
      depositMc,
    },
  };
}
