import { recordCompletion, recordViolation } from "../reputation/reputation.js";
import { rewardKey } from "../rewards/proof-of-flow.js";
import { getOrInsert, mulDivFloor } from "../state/arith.js";
import { recordIncome } from "../state/income.js";
import { payFrozen, unfreeze } from "../state/ledger.js";
import type { Trade, TradingEvent, TradingState } from "../state/types.js";

export type Outcome =
  | "delivered"
  | "partial"
  | "seller-no-show"
  | "buyer-refused"
  | "cancelled-by-buyer"
  | "cancelled-by-seller"
  | "ruled";

export interface Closing {
  /** energy the buyer pays for; the payment is the same fraction of the locked payment, floored */
  paidWh: number;
  sellerForfeitMc: number;
  buyerForfeitMc: number;
  outcome: Outcome;
}

/**
 * Step (3)–(13) of HO-TRAD's contract: pay the seller for what was delivered, move forfeited deposits to
 * the other side, release everything else. Each movement takes frozen coins of one wallet into the
 * balance of another, so coins are conserved and the frozen amount drops by exactly the trade's lock.
 */
export function closeTrade(state: TradingState, t: Trade, c: Closing, timeMs: number): TradingEvent {
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
  return {
    type: "trade-closed",
    tradeId: t.id,
    outcome: c.outcome,
    paidWh,
    paidMc,
    buyerForfeitMc: c.buyerForfeitMc,
    sellerForfeitMc: c.sellerForfeitMc,
    buyer: t.buyer,
    seller: t.seller,
  };
}
