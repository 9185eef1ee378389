import { recordCompletion, recordViolation } from "../reputation/reputation.js";
import { rewardKey } from "../rewards/proof-of-flow.js";
import { getOrInsert, mulDivFloor } from "../state/arith.js";
import type { Fault, Outcome, TradeClosedEvent } from "../state/events.js";
import { recordIncome } from "../state/income.js";
import { payFrozen, unfreeze } from "../state/ledger.js";
import type { Trade, TradingState } from "../state/types.js";

interface Payout {
  /** energy the buyer pays for; the payment is the same fraction of the locked payment, floored */
  paidWh: number;
  sellerForfeitMc: number;
  buyerForfeitMc: number;
}

/** How a trade ends: settled, called off by a party, or ruled on by an aggregator (who and what). */
export type Closing =
  | (Payout & { outcome: Exclude<Outcome, "ruled"> })
  | (Payout & { outcome: "ruled"; fault: Fault; rulingBy: string; note: string });

/**
 * Step (3)–(13) of HO-TRAD's contract: pay the seller for what was delivered, move forfeited deposits to
 * the other side, release everything else. Each movement takes frozen coins of one wallet into the
 * balance of another, so coins are conserved and the frozen amount drops by exactly the trade's lock.
 */
export function closeTrade(state: TradingState, t: Trade, c: Closing, timeMs: number): TradeClosedEvent {
  const buyerW = state.wallets.get(t.buyerWallet)!;
  const sellerW = state.wallets.get(t.sellerWallet)!;
  const paidWh = Math.min(c.paidWh, t.energyWh);
  const paidMc = mulDivFloor(t.paymentMc, paidWh, t.energyWh);
  payFrozen(buyerW, sellerW, paidMc);
  unfreeze(buyerW, t.paymentMc - paidMc);
  payFrozen(buyerW, sellerW, c.buyerForfeitMc);
  unfreeze(buyerW, t.depositMc - c.buyerForfeitMc);
  payFrozen(sellerW, buyerW, c.sellerForfeitMc);
  unfreeze(sellerW, t.depositMc - c.sellerForfeitMc);

  const p = state.params.rep;
  const buyerRep = state.agents.get(t.buyer)!.rep;
  const sellerRep = state.agents.get(t.seller)!.rep;
  if (c.buyerForfeitMc > 0) recordViolation(buyerRep, t.xiBuyer, p);
  else if (paidWh > 0) recordCompletion(buyerRep, t.xiBuyer, p);
  if (c.sellerForfeitMc > 0) recordViolation(sellerRep, t.xiSeller, p);
  else if (paidWh > 0) recordCompletion(sellerRep, t.xiSeller, p);

  if (paidMc > 0) recordIncome(state.agents.get(t.seller)!, timeMs, paidMc);
  const period = Math.floor(t.interval / state.params.rewardPeriodIntervals);
  // a ruling after the period was rewarded no longer changes that period's result
  const home = state.agents.get(t.seller)!.home;
  if (paidWh > 0 && !state.rewardsPaid.has(rewardKey(period, home))) {
    const f = getOrInsert(state.flow, period, () => new Map<string, number>());
    f.set(t.seller, (f.get(t.seller) ?? 0) + paidWh);
  }
  state.trades.delete(t.id);
  const set = state.tradesByInterval.get(t.interval);
  set?.delete(t.id);
  if (set?.size === 0) state.tradesByInterval.delete(t.interval);
  const closing = {
    type: "trade-closed" as const,
    tradeId: t.id,
    paidWh,
    paidMc,
    buyerForfeitMc: c.buyerForfeitMc,
    sellerForfeitMc: c.sellerForfeitMc,
    buyer: t.buyer,
    seller: t.seller,
  };
  return c.outcome === "ruled"
    ? { ...closing, outcome: c.outcome, fault: c.fault, rulingBy: c.rulingBy, note: c.note }
    : { ...closing, outcome: c.outcome };
}
