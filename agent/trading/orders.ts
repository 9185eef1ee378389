import { type EvidenceReading, evidenceTotals, intervalEvidence } from "../../protocol/evidence.js";
import type {
  Announcement,
  DeliveryConfirmationBody,
  MeterSummaryBody,
  OrderBody,
} from "../../protocol/messages/trading.js";
import { requiredDepositMc } from "../../protocol/messages/trading.js";
import type { MeterReading } from "../meters/types.js";
import { intervalEnergy } from "./energy.js";
import type { RoleChoice } from "./role.js";

/** The market rules the agent must know to build acceptable orders (from the aggregator's config). */
export interface MarketTerms {
  intervalMs: number;
  depositPct: number;
  maxPriceMcPerKwh: number;
}

export interface PricePolicy {
  /** a seller asks the reference price less this many percent, never below minSell */
  sellDiscountPct: number;
  minSellMcPerKwh: number;
  /** a buyer bids the reference price plus this many percent, never above maxBuy */
  buyMarkupPct: number;
  maxBuyMcPerKwh: number;
}

export function limitPrice(
  role: "seller" | "buyer",
  a: Announcement,
  p: PricePolicy,
  terms: MarketTerms,
): number {
  const ref = a.referencePriceMcPerKwh;
  if (role === "seller")
    return Math.min(
      terms.maxPriceMcPerKwh,
      Math.max(p.minSellMcPerKwh, Math.floor((ref * (100 - p.sellDiscountPct)) / 100)),
    );
  return Math.min(terms.maxPriceMcPerKwh, p.maxBuyMcPerKwh, Math.floor((ref * (100 + p.buyMarkupPct)) / 100));
}

/** The order for the announced interval, with the exact deposit authorisation it needs; null when idle. */
export function buildOrder(
  wallet: string,
  choice: RoleChoice,
  a: Announcement,
  p: PricePolicy,
  terms: MarketTerms,
): OrderBody | null {
  if (choice.role === "idle" || choice.energyWh <= 0) return null;
  const side = choice.role === "seller" ? "sell" : "buy";
  const price = limitPrice(choice.role, a, p, terms);
  const maxDepositMc = requiredDepositMc(
    side,
    choice.energyWh,
    price,
    terms.depositPct,
    terms.maxPriceMcPerKwh,
  );
  return {
    wallet,
    side,
    interval: a.interval,
    energyWh: choice.energyWh,
    limitPriceMcPerKwh: price,
    deposit: { wallet, interval: a.interval, maxDepositMc },
  };
}

/** The meter summary for an interval that has ended, from the agent's own signed readings. */
export function buildMeterSummary(
  readings: readonly EvidenceReading[],
  interval: number,
  terms: MarketTerms,
): MeterSummaryBody | null {
  const meters = intervalEvidence(readings, interval, terms.intervalMs);
  return meters.length === 0 ? null : { interval, ...evidenceTotals(meters), meters };
}

/**
 * The buyer's confirmation: what its own meter imported during the interval, capped at the trade.
 * With several trades in one interval the import is shared in proportion to each trade's energy.
 */
export function buildConfirmation(
  trade: { tradeId: string; interval: number; energyWh: number },
  boughtInIntervalWh: number,
  readings: readonly MeterReading[],
  terms: MarketTerms,
): DeliveryConfirmationBody | null {
  const e = intervalEnergy(readings, trade.interval, terms.intervalMs);
  if (!e) return null;
  const share =
    e.importWh >= boughtInIntervalWh
      ? trade.energyWh
      : Number((BigInt(trade.energyWh) * BigInt(e.importWh)) / BigInt(Math.max(1, boughtInIntervalWh)));
  return { tradeId: trade.tradeId, receivedWh: Math.min(share, trade.energyWh) };
}
