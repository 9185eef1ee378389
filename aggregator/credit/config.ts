import { z } from "#zod";

const DAY_MS = 86_400_000;

/**
 * The `credit` section of the aggregator configuration. Every aggregator of a consortium must run with
 * the same values (they are replicated rules). Pricing parameters follow seed 000's Table II; the
 * defaults for what the seed leaves open (α_max, Qmin, term, buffer, thresholds) are ours and are
 * documented in docs/CREDIT.md.
 */
export const creditConfigSchema = z
  .object({
    eta: z.number().gt(1).max(100).default(3.5).describe("unit penalty η > 1 (α = η t β; seed: 3.5)"),
    alphaMax: z.number().gt(0).max(1e6).default(10).describe("upper bound α_max of the penalty rate"),
    scanStep: z.number().gt(0).max(1).default(0.001).describe("α step of the seed's Algorithm 1 (the check)"),
    unitCost: z
      .number()
      .min(0)
      .max(10)
      .default(0.15)
      .describe("unit cost c of a loan for the bank (seed: 0.1–0.2)"),
    satisfactionD: z
      .number()
      .gt(0)
      .max(1e9)
      .default(20_200)
      .describe("satisfaction factor d (seed: 20 000–20 400)"),
    satisfactionTheta: z
      .number()
      .gt(0)
      .max(1e9)
      .default(2_250)
      .describe("satisfaction offset θ (seed: 2000–2500)"),
    termDays: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(30)
      .describe("token validity t; t in months = days / 30, at most the seed's 10 months"),
    bufferDays: z.number().int().min(0).max(3650).default(7).describe("repayment buffer after the validity"),
    defaultLimitDays: z
      .number()
      .int()
      .min(1)
      .max(36_500)
      .default(365)
      .describe("unpaid this long after the buffer: blacklisted (seed: one year)"),
    creditDecreasePerCoin: z
      .number()
      .min(0)
      .max(1e6)
      .default(1)
      .describe("d of Credit(n+1) = Credit(n) − d·amount, per whole coin lent"),
    initialCredit: z.number().int().min(0).max(1e9).default(2_000).describe("credit value of a new borrower"),
    creditPerGrade: z
      .number()
      .int()
      .min(1)
      .max(1e9)
      .default(100)
      .describe("credit points per sub-grade above G5"),
    newBorrowerLambda: z
      .number()
      .gt(0)
      .max(1)
      .default(1)
      .describe("repayment ability assumed without any record"),
    maxRecordHashes: z.number().int().min(1).max(1024).default(32).describe("payment hashes kept in a token"),
    eligibility: z
      .object({
        minWealthMc: z
          .number()
          .int()
          .min(0)
          .default(1)
          .describe("wealth (milli-coins) the borrower must hold"),
        incomePeriodDays: z.number().int().min(1).max(365).default(7),
        incomePeriods: z.number().int().min(1).max(520).default(4).describe("periods looked back"),
        minIncomePeriods: z
          .number()
          .int()
          .min(1)
          .max(520)
          .default(2)
          .describe("periods with energy-sale income needed for 'regular income'"),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.scanStep <= c.alphaMax, {
    message: "scanStep must not exceed alphaMax",
    path: ["scanStep"],
  })
  .refine((c) => c.eligibility.minIncomePeriods <= c.eligibility.incomePeriods, {
    message: "minIncomePeriods must not exceed incomePeriods",
    path: ["eligibility", "minIncomePeriods"],
  });

export type CreditConfig = z.output<typeof creditConfigSchema>;

export const DEFAULT_CREDIT_CONFIG: CreditConfig = creditConfigSchema.parse({});

/** Month length used to turn the token validity into the model's t (months). */
export const DAYS_PER_MONTH = 30;

export function termMonths(c: CreditConfig): number {
  return c.termDays / DAYS_PER_MONTH;
}

export const msOfDays = (days: number): number => days * DAY_MS;
