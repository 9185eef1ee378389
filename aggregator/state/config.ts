import { z } from "#zod";
import { PPM } from "./arith.js";

/**
 * The `trading` section of the aggregator configuration. Every aggregator of a consortium must run with
 * the same values (they are part of the replicated rules), so the resolved parameters are stored in the
 * state and covered by its hash.
 */
const reputationSchema = z
  .object({
    initialActivity: z
      .number()
      .min(0)
      .max(1e6)
      .default(10)
      .describe("activity value of a new entity (HO-TRAD: 10)"),
    initialReputation: z
      .number()
      .min(0)
      .max(1e6)
      .default(20)
      .describe("reputation value of a new entity (HO-TRAD: 20)"),
    violationPenalty: z
      .number()
      .min(0)
      .max(1000)
      .default(5)
      .describe("a violation lowers the reputation value by violationPenalty·(1 + ξ)"),
    beta: z.number().min(0).max(10).default(0.5).describe("weight of the activity value in the active value"),
    delta: z
      .number()
      .min(0)
      .max(10)
      .default(0.5)
      .describe("weight of the reputation value in the active value"),
    dampingStreak: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(3)
      .describe("moves in one direction before β and δ are damped"),
    dampingFactor: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe("β and δ are multiplied by this on each damped move"),
    minWeight: z.number().min(0).max(10).default(0.1).describe("β and δ never fall below this"),
  })
  .strict();

export const tradingConfigSchema = z
  .object({
    intervalMs: z
      .number()
      .int()
      .min(1000)
      .max(86_400_000)
      .default(900_000)
      .describe("delivery interval length (15 min)"),
    maxIntervalsAhead: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(96)
      .describe("how far ahead orders may be placed"),
    pricing: z.enum(["uniform", "pay-as-bid"]).default("uniform"),
    depositPct: z
      .number()
      .min(0)
      .max(100)
      .default(10)
      .describe("deposit per side, percent of the trade amount"),
    maxPriceMcPerKwh: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(2_000)
      .describe("price ceiling; sellers reserve their deposit at this price"),
    referencePriceMcPerKwh: z
      .number()
      .int()
      .min(0)
      .max(10_000_000)
      .default(250)
      .describe("reference price announced before the first clearing"),
    minEnergyWh: z.number().int().min(1).default(1),
    maxEnergyWh: z.number().int().min(1).max(100_000_000).default(1_000_000),
    confirmWindowMs: z
      .number()
      .int()
      .min(0)
      .default(900_000)
      .describe("time after an interval ends for confirmations and disputes before settlement"),
    exportLookbackIntervals: z.number().int().min(1).max(10_000).default(96),
    exportPlausibilityPct: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(150)
      .describe("a seller may offer up to this percentage of its best recent interval export"),
    initialAllocationMc: z.number().int().min(0).default(20_000).describe("seed 000: 20 coins per node"),
    reputation: reputationSchema.prefault({}),
    rewards: z
      .object({
        amountMc: z.number().int().min(0).default(1_000),
        periodIntervals: z.number().int().min(1).default(96).describe("reward period in delivery intervals"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type TradingConfig = z.infer<typeof tradingConfigSchema>;

/** The configuration as integers: what the state machine computes with and hashes. */
export interface TradingParams {
  intervalMs: number;
  maxIntervalsAhead: number;
  pricing: "uniform" | "pay-as-bid";
  depositBps: number;
  maxPriceMcPerKwh: number;
  referencePriceMcPerKwh: number;
  minEnergyWh: number;
  maxEnergyWh: number;
  confirmWindowMs: number;
  exportLookbackIntervals: number;
  exportPlausibilityPct: number;
  initialAllocationMc: number;
  rewardAmountMc: number;
  rewardPeriodIntervals: number;
  /** reputation quantities in parts per million */
  rep: {
    initialActivity: number;
    initialReputation: number;
    violationPenalty: number;
    beta: number;
    delta: number;
    dampingStreak: number;
    dampingFactor: number;
    minWeight: number;
  };
}

const ppm = (x: number): number => Math.round(x * PPM);

export function resolveTradingParams(input: unknown = {}): TradingParams {
  const c = tradingConfigSchema.parse(input);
  return {
    intervalMs: c.intervalMs,
    maxIntervalsAhead: c.maxIntervalsAhead,
    pricing: c.pricing,
    depositBps: Math.round(c.depositPct * 100),
    maxPriceMcPerKwh: c.maxPriceMcPerKwh,
    referencePriceMcPerKwh: c.referencePriceMcPerKwh,
    minEnergyWh: c.minEnergyWh,
    maxEnergyWh: c.maxEnergyWh,
    confirmWindowMs: c.confirmWindowMs,
    exportLookbackIntervals: c.exportLookbackIntervals,
    exportPlausibilityPct: c.exportPlausibilityPct,
    initialAllocationMc: c.initialAllocationMc,
    rewardAmountMc: c.rewards.amountMc,
    rewardPeriodIntervals: c.rewards.periodIntervals,
    rep: {
      initialActivity: ppm(c.reputation.initialActivity),
      initialReputation: ppm(c.reputation.initialReputation),
      violationPenalty: ppm(c.reputation.violationPenalty),
      beta: ppm(c.reputation.beta),
      delta: ppm(c.reputation.delta),
      dampingStreak: c.reputation.dampingStreak,
      dampingFactor: ppm(c.reputation.dampingFactor),
      minWeight: ppm(c.reputation.minWeight),
    },
  };
}
