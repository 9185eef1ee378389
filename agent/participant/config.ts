import { z } from "#zod";

/**
 * The agent's `trading:` section (docs/AGENT-TRADING.md). The market terms must match the aggregators'
 * genesis (interval length, deposit rate, price cap): the agent builds orders and deposit authorisations
 * the ledger accepts only if they agree.
 */
const mc = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const tradingConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** which wallet of the certificate trades: an index into `wallets`, or an address */
    wallet: z.union([z.number().int().min(0), z.string().min(8)]).default(0),
    market: z
      .object({
        intervalMs: z.number().int().min(1000).max(86_400_000).default(900_000),
        depositPct: z.number().min(0).max(100).default(10),
        maxPriceMcPerKwh: mc.default(2_000),
      })
      .strict()
      .default({ intervalMs: 900_000, depositPct: 10, maxPriceMcPerKwh: 2_000 }),
    limits: z
      .object({
        /** completed intervals whose average net energy chooses the role */
        historyIntervals: z.number().int().min(1).max(96).default(2),
        sellAboveWh: z.number().int().min(0).default(1),
        buyAboveWh: z.number().int().min(0).default(1),
        maxSellWh: z.number().int().min(1).default(10_000),
        maxBuyWh: z.number().int().min(1).default(10_000),
      })
      .strict()
      .default({ historyIntervals: 2, sellAboveWh: 1, buyAboveWh: 1, maxSellWh: 10_000, maxBuyWh: 10_000 }),
    price: z
      .object({
        sellDiscountPct: z.number().int().min(0).max(100).default(5),
        minSellMcPerKwh: mc.default(0),
        buyMarkupPct: z.number().int().min(0).max(1000).default(5),
        maxBuyMcPerKwh: mc.default(2_000),
        /** used until the first market.announce arrives; without it the agent waits for one */
        fallbackReferenceMcPerKwh: mc.optional(),
      })
      .strict()
      .default({ sellDiscountPct: 5, minSellMcPerKwh: 0, buyMarkupPct: 5, maxBuyMcPerKwh: 2_000 }),
    /** a summary and confirmations go out this long after an interval ends (late readings) */
    settleDelayMs: z.number().int().min(0).max(3_600_000).default(2000),
    credit: z
      .object({
        enabled: z.boolean().default(false),
        /** loan asked for, milli-coins; 0: the shortfall of the buy that could not be paid */
        amountMc: mc.default(0),
        /** the bank: the home aggregator unless given */
        bank: z.string().min(1).optional(),
        /** the credit value the agent claims (the bank decides on its own record) */
        claimedCredit: z.number().int().default(0),
        /** Qmin of the pricing model, kWh; the bank offers a loan only while Qmin ≤ θ */
        qMinKwh: z.number().min(0).max(1e9).default(1),
        /** after a refused request, wait this many intervals before asking again */
        retryIntervals: z.number().int().min(1).max(10_000).default(10),
      })
      .strict()
      .default({ enabled: false, amountMc: 0, claimedCredit: 0, qMinKwh: 1, retryIntervals: 10 }),
  })
  .strict();

export type TradingConfig = z.infer<typeof tradingConfigSchema>;
export const DEFAULT_TRADING_CONFIG: TradingConfig = tradingConfigSchema.parse({});
