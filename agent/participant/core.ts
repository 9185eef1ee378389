/**
 * The agent's trading decisions (pure: time, readings and the ledger's last word come in as arguments).
 * The shell (participant.ts) stores what these functions return and sends it through the outbox.
 */

import { type EvidenceReading, evidenceTotals, intervalEvidence } from "../../protocol/evidence.js";
import type {
  Announcement,
  DeliveryConfirmationBody,
  Fill,
  MeterSummaryBody,
  OrderBody,
} from "../../protocol/messages/trading.js";
import type { MeterReading } from "../meters/types.js";
import { intervalEnergy } from "../trading/energy.js";
import { buildOrder, type MarketTerms, type PricePolicy } from "../trading/orders.js";
import { chooseRole, type RoleChoice, type RoleLimits } from "../trading/role.js";

export interface EnergyTotals {
  importWh: number;
  exportWh: number;
  readings: number;
}

export function intervalOf(timeMs: number, terms: MarketTerms): number {
  return Math.floor(timeMs / terms.intervalMs);
}

/**
 * An interval's energy over all of the agent's meters: each meter's cumulative counters are differenced
 * on their own (agent/trading/energy.ts), then summed. Null while no meter has a reading to start from.
 */
export function agentIntervalEnergy(
  readings: readonly MeterReading[],
  interval: number,
  terms: MarketTerms,
): EnergyTotals | null {
  const byMeter = new Map<string, MeterReading[]>();
  for (const r of readings) {
    const list = byMeter.get(r.meter);
    if (list) list.push(r);
    else byMeter.set(r.meter, [r]);
  }
  let found = false;
  const total: EnergyTotals = { importWh: 0, exportWh: 0, readings: 0 };
  for (const list of byMeter.values()) {
    const e = intervalEnergy(list, interval, terms.intervalMs);
    if (!e) continue;
    found = true;
    total.importWh += e.importWh;
    total.exportWh += e.exportWh;
    total.readings += e.readings;
  }
  return found ? total : null;
}

/** What the agent does for the interval ahead. */
export type OrderPlan =
  | { kind: "order"; order: OrderBody; choice: RoleChoice; referenceMcPerKwh: number; shortfallMc: number }
  | {
      kind: "idle";
      reason: "no-reference-price" | "already-ordered" | "role-idle" | "no-funds" | "before-summary";
      shortfallMc: number;
    };

export interface PlanInput {
  now: number;
  terms: MarketTerms;
  limits: RoleLimits & { historyIntervals: number };
  price: PricePolicy & { fallbackReferenceMcPerKwh?: number | undefined };
  wallet: string;
  /** the newest announcement received (any interval): its reference price is the market's latest */
  announce: Announcement | null;
  /** energy of the last completed intervals, oldest first (missing intervals left out) */
  recent: readonly { importWh: number; exportWh: number }[];
  /** intervals this agent has already ordered for */
  ordered: ReadonlySet<number>;
  /** the trading wallet's available balance in the last account view; null before the first view */
  availableMc: number | null;
  /**
   * orders wait this long into the interval, so that the summary of the interval just ended goes first:
   * the ledger judges a sell offer by the seller's recent metered export
   */
  settleDelayMs: number;
}

/** Money a buy order freezes: the payment at its limit price plus its deposit (aggregator rule). */
export function buyCostMc(order: Pick<OrderBody, "energyWh" | "limitPriceMcPerKwh" | "deposit">): number {
  return (
    Number((BigInt(order.energyWh) * BigInt(order.limitPriceMcPerKwh)) / 1000n) + order.deposit.maxDepositMc
  );
}

/**
 * The order for the next interval. A buyer whose last known balance cannot pay for what it wants bids
 * for what it can afford and reports the shortfall (the credit decision takes it from there); a seller
 * needs only its deposit, which the ledger checks.
 */
export function planOrder(p: PlanInput): OrderPlan {
  const target = intervalOf(p.now, p.terms) + 1;
  if (p.ordered.has(target)) return { kind: "idle", reason: "already-ordered", shortfallMc: 0 };
  if (p.now - (target - 1) * p.terms.intervalMs < p.settleDelayMs)
    return { kind: "idle", reason: "before-summary", shortfallMc: 0 };
  const ref = p.announce?.referencePriceMcPerKwh ?? p.price.fallbackReferenceMcPerKwh;
  if (ref === undefined) return { kind: "idle", reason: "no-reference-price", shortfallMc: 0 };
  const recent = p.recent.slice(-p.limits.historyIntervals);
  const choice = chooseRole(recent, p.limits);
  const announcement: Announcement = {
    interval: target,
    demandWh: 0,
    supplyWh: 0,
    buyers: 0,
    referencePriceMcPerKwh: ref,
  };
  const order = buildOrder(p.wallet, choice, announcement, p.price, p.terms);
  if (order === null) return { kind: "idle", reason: "role-idle", shortfallMc: 0 };
  if (order.side === "sell" || p.availableMc === null) {
    return { kind: "order", order, choice, referenceMcPerKwh: ref, shortfallMc: 0 };
  }
  const need = buyCostMc(order);
  if (need <= p.availableMc) return { kind: "order", order, choice, referenceMcPerKwh: ref, shortfallMc: 0 };
  const shortfallMc = need - p.availableMc;
  const affordable = affordableWh(order, p.availableMc, p.terms);
  if (affordable < 1) return { kind: "idle", reason: "no-funds", shortfallMc };
  const smaller = buildOrder(p.wallet, { ...choice, energyWh: affordable }, announcement, p.price, p.terms);
  if (smaller === null) return { kind: "idle", reason: "no-funds", shortfallMc };
  return { kind: "order", order: smaller, choice, referenceMcPerKwh: ref, shortfallMc };
}

/** The largest energy whose payment and deposit at the order's price fit in `availableMc`. */
function affordableWh(order: OrderBody, availableMc: number, terms: MarketTerms): number {
  const price = order.limitPriceMcPerKwh;
  if (price === 0) return order.energyWh;
  // cost(E) ≈ E·p/1000·(1 + d); start from the real-number bound and step down to the exact one.
  let e = Math.min(
    order.energyWh,
    Math.floor((availableMc * 1000 * 100) / (price * (100 + terms.depositPct))) + 1,
  );
  const fits = (wh: number) => {
    const cost = Number((BigInt(wh) * BigInt(price)) / 1000n);
    return cost + Math.floor((cost * Math.round(terms.depositPct * 100)) / 10_000) <= availableMc;
  };
  while (e > 0 && !fits(e)) e -= 1;
  return e;
}

/** Completed intervals that still need a meter summary: ended `settleDelayMs` ago, not yet summarised. */
export function intervalsToSummarise(
  now: number,
  terms: MarketTerms,
  settleDelayMs: number,
  firstInterval: number,
  summarised: ReadonlySet<number>,
  maxBack = 4,
): number[] {
  const lastDone = intervalOf(now - settleDelayMs, terms) - 1;
  const out: number[] = [];
  for (let i = Math.max(firstInterval, lastDone - maxBack + 1); i <= lastDone; i++)
    if (!summarised.has(i)) out.push(i);
  return out;
}

/**
 * The summary of an interval from the agent's own signed readings (protocol/evidence.ts): per meter the
 * edge readings and the Merkle root of the covered ones. Null when no meter read anything inside the
 * interval: "0 Wh imported" would be evidence against a seller.
 */
export function meterSummary(
  interval: number,
  readings: readonly EvidenceReading[],
  terms: MarketTerms,
  replacements: ReadonlyMap<string, readonly number[]> = new Map(),
): MeterSummaryBody | null {
  const start = interval * terms.intervalMs;
  if (!readings.some((r) => r.ts > start && r.ts <= start + terms.intervalMs)) return null;
  const meters = intervalEvidence(readings, interval, terms.intervalMs, replacements);
  if (meters.length === 0) return null;
  return { interval, ...evidenceTotals(meters), meters };
}

/**
 * The buyer's confirmations for the trades of one interval, from its own metered import: each trade gets
 * its share of the import in proportion to its energy, never more than it bought (HO-TRAD: the buyer
 * confirms what it received; the contract settles pro rata).
 */
export function confirmations(
  buys: readonly Pick<Fill, "tradeId" | "energyWh">[],
  importedWh: number,
): DeliveryConfirmationBody[] {
  const bought = buys.reduce((s, f) => s + f.energyWh, 0);
  return buys.map((f) => ({
    tradeId: f.tradeId,
    receivedWh:
      importedWh >= bought
        ? f.energyWh
        : Number((BigInt(f.energyWh) * BigInt(importedWh)) / BigInt(Math.max(1, bought))),
  }));
}

/** Wallets of the certificate not yet registered by this agent. */
export function walletsToRegister(certWallets: readonly string[], registered: ReadonlySet<string>): string[] {
  return certWallets.filter((w) => !registered.has(w));
}
