import { z } from "#zod";
import { evidenceInconsistency, meterEvidenceSchema } from "../evidence.js";

/**
 * Bodies of the trading messages. Agents sign them inside envelopes; the aggregator turns each accepted
 * body into a ledger transaction of the same name. Money is in milli-coins, energy in Wh, prices in
 * milli-coins per kWh, intervals are indices (interval i starts at i × intervalMs since the epoch).
 */

/** Envelope types of the trading messages, agent → aggregator (on `agentUp`). */
export const MSG_REGISTER_WALLET = "wallet.register";
export const MSG_ORDER = "order";
export const MSG_CANCEL_ORDER = "order.cancel";
export const MSG_METER_SUMMARY = "meter.summary";
export const MSG_CONFIRM_DELIVERY = "delivery.confirm";
export const MSG_CANCEL_TRADE = "trade.cancel";
export const MSG_DISPUTE = "trade.dispute";
/** aggregator → one agent (on `agentDown`, body NaCl-boxed to the agent) */
export const MSG_FILL = "fill";
/** aggregator → all its agents (on `aggregatorAnnounce`) */
export const MSG_ANNOUNCE = "market.announce";

const id = z.string().min(1).max(128);
const wallet = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,128}$/, "a wallet address is 8 to 128 characters of [A-Za-z0-9_-]");
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const interval = z.number().int().min(0).max(1e12);

/** Authorises the aggregator to freeze up to `maxDepositMc` of the wallet as the order's deposit. */
export const depositAuthorisationSchema = z.object({ wallet, interval, maxDepositMc: count }).strict();

export const orderBodySchema = z
  .object({
    wallet,
    side: z.enum(["buy", "sell"]),
    interval,
    energyWh: z.number().int().min(1).max(100_000_000),
    limitPriceMcPerKwh: z.number().int().min(0).max(10_000_000),
    deposit: depositAuthorisationSchema,
  })
  .strict()
  .refine((o) => o.deposit.wallet === o.wallet && o.deposit.interval === o.interval, {
    message: "the deposit authorisation must name the order's wallet and interval",
    path: ["deposit"],
  });

export const cancelOrderBodySchema = z.object({ orderId: id }).strict();

/** The buyer's statement of what it received, from its own meter. */
export const deliveryConfirmationBodySchema = z.object({ tradeId: id, receivedWh: count }).strict();

/** Either party calls off a matched trade and forfeits its deposit to the other. */
export const cancelTradeBodySchema = z.object({ tradeId: id }).strict();

export const disputeBodySchema = z
  .object({ tradeId: id, claimedWh: count, reason: z.string().min(1).max(500) })
  .strict();

/** The aggregator's ruling on a disputed trade (a transaction signed by the aggregator). */
export const rulingBodySchema = z
  .object({
    tradeId: id,
    deliveredWh: count,
    fault: z.enum(["none", "seller", "buyer"]),
    note: z.string().max(500).default(""),
  })
  .strict();

/**
 * An agent's metered energy over one delivery interval, proven by its signed readings: per meter the
 * edge readings' registers, and a Merkle root over every reading in between (protocol/evidence.ts). The
 * totals must equal the registers' differences; the home aggregator checks the rest against the readings
 * it ingested.
 */
export const meterSummaryBodySchema = z
  .object({
    interval,
    importWh: count,
    exportWh: count,
    /** readings covered, over all meters */
    readings: z.number().int().min(0).max(1e9),
    meters: z.array(meterEvidenceSchema).min(1).max(64),
  })
  .strict()
  .superRefine((s, ctx) => {
    const why = evidenceInconsistency(s);
    if (why !== undefined) ctx.addIssue({ code: "custom", message: why, path: ["meters"] });
  });

export const registerWalletBodySchema = z.object({ wallet }).strict();

/** What the aggregator publishes to its sellers before an interval (seed 000's flow). */
export const announcementSchema = z
  .object({
    interval,
    demandWh: count,
    supplyWh: count,
    buyers: count,
    referencePriceMcPerKwh: count,
  })
  .strict();

/** A fill sent (encrypted) to one party after clearing. */
export const fillSchema = z
  .object({
    tradeId: id,
    orderId: id,
    side: z.enum(["buy", "sell"]),
    interval,
    energyWh: count,
    priceMcPerKwh: count,
    paymentMc: count,
    depositMc: count,
  })
  .strict();

export type OrderBody = z.infer<typeof orderBodySchema>;
export type DepositAuthorisation = z.infer<typeof depositAuthorisationSchema>;
export type CancelOrderBody = z.infer<typeof cancelOrderBodySchema>;
export type DeliveryConfirmationBody = z.infer<typeof deliveryConfirmationBodySchema>;
export type CancelTradeBody = z.infer<typeof cancelTradeBodySchema>;
export type DisputeBody = z.infer<typeof disputeBodySchema>;
export type RulingBody = z.infer<typeof rulingBodySchema>;
export type MeterSummaryBody = z.infer<typeof meterSummaryBodySchema>;
export type RegisterWalletBody = z.infer<typeof registerWalletBodySchema>;
export type Announcement = z.infer<typeof announcementSchema>;
export type Fill = z.infer<typeof fillSchema>;

/**
 * The deposit an order needs authorised, by the aggregator's rule: 10 % (depositPct) of the trade
 * amount, floored; a buyer's amount at its limit price, a seller's at the price cap (its clearing price
 * can reach the cap). Integer arithmetic throughout: cost = floor(Wh × mc/kWh / 1000).
 */
export function requiredDepositMc(
  side: "buy" | "sell",
  energyWh: number,
  limitPriceMcPerKwh: number,
  depositPct: number,
  maxPriceMcPerKwh: number,
): number {
  const price = side === "buy" ? limitPriceMcPerKwh : maxPriceMcPerKwh;
  const cost = Number((BigInt(energyWh) * BigInt(price)) / 1000n);
  const bps = Math.round(depositPct * 100);
  return Number((BigInt(cost) * BigInt(bps)) / 10_000n);
}
