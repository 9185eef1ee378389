import { z } from "#zod";
import { CreditError } from "./errors.js";
import { gammaOfGrade, gradeIndex, repaymentAbility } from "./grades.js";
import {
  type BorrowerParams,
  NO_LOAN_REASONS,
  type NoLoanReason,
  priceBorrower,
  scanBorrower,
} from "./pricing.js";

/**
 * Input and output of `gridlet credit price`: borrowers' parameters in, each borrower's Stackelberg
 * equilibrium (and the seed's Algorithm 1 as a check) out, as plain JSON that anyone can recompute.
 */
const borrowerInputSchema = z
  .object({
    id: z.string().min(1).max(128).optional(),
    d: z.number().gt(0),
    theta: z.number().gt(0),
    qMin: z.number().min(0),
    p: z.number().gt(0),
    t: z.number().gt(0).max(10).describe("months, the seed's range (0, 10]"),
    lambda: z.number().gt(0).max(1).optional(),
    s: z.number().int().min(0).optional(),
    f: z.number().int().min(0).optional(),
    gamma: z.number().gt(0).max(1).optional(),
    grade: z
      .string()
      .regex(/^[A-G][1-5]$/, "a credit grade A1 … G5")
      .optional(),
    c: z.number().min(0),
    eta: z.number().gt(1).optional(),
  })
  .strict()
  .refine((b) => (b.lambda !== undefined) !== (b.s !== undefined || b.f !== undefined), {
    message: "give either lambda or the record s, f",
  })
  .refine((b) => (b.gamma !== undefined) !== (b.grade !== undefined), {
    message: "give either gamma or grade",
  });

export const priceInputSchema = z
  .object({
    eta: z.number().gt(1).default(3.5),
    alphaMax: z.number().gt(0).default(10),
    scanStep: z.number().gt(0).default(0.001),
    borrowers: z.array(borrowerInputSchema).min(1).max(100_000),
  })
  .strict()
  .refine((x) => x.scanStep <= x.alphaMax, {
    message: "scanStep must not exceed alphaMax",
    path: ["scanStep"],
  });

export type PriceInput = z.input<typeof priceInputSchema>;

export interface PricedBorrower {
  id: string;
  k: number;
  offered: boolean;
  /** why no loan is offered (null when one is), and the same in words */
  reason: NoLoanReason | null;
  why: string | null;
  /** R*, α*, β*: the equilibrium */
  R: number;
  alpha: number;
  beta: number;
  bankUtility: number;
  borrowerUtility: number;
  lambda: number;
  gamma: number;
  algorithm1: {
    offered: boolean;
    reason: NoLoanReason | null;
    alpha: number;
    R: number;
    bankUtility: number;
    agreesWithinStep: boolean;
  };
}

export interface PriceReport {
  alphaMax: number;
  scanStep: number;
  borrowers: PricedBorrower[];
  totals: { loan: number; bankUtility: number; borrowerUtility: number };
}

/** Validates the input, naming the offending field path. */
export function parsePriceInput(raw: unknown): z.output<typeof priceInputSchema> {
  const r = priceInputSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`);
    throw new CreditError("BAD_PARAMETERS", `bad pricing input: ${problems.join("; ")}`, { problems });
  }
  return r.data;
}

export function priceReport(raw: unknown): PriceReport {
  const input = parsePriceInput(raw);
  const borrowers = input.borrowers.map((b, i): PricedBorrower => {
    const params: BorrowerParams = {
      d: b.d,
      theta: b.theta,
      qMin: b.qMin,
      p: b.p,
      t: b.t,
      lambda: b.lambda ?? repaymentAbility(b.s ?? 0, b.f ?? 0, 1),
      gamma: b.gamma ?? gammaOfGrade(gradeIndex(b.grade ?? "")),
      eta: b.eta ?? input.eta,
      c: b.c,
    };
    const q = priceBorrower(params, input.alphaMax);
    const scan = scanBorrower(params, input.alphaMax, input.scanStep);
    return {
      id: b.id ?? `borrower-${i + 1}`,
      k: q.k,
      offered: q.offered,
      reason: q.reason,
      why: q.reason === null ? null : NO_LOAN_REASONS[q.reason],
      R: q.R,
      alpha: q.alpha,
      beta: q.beta,
      bankUtility: q.bankUtility,
      borrowerUtility: q.borrowerUtility,
      lambda: params.lambda,
      gamma: params.gamma,
      algorithm1: {
        offered: scan.offered,
        reason: scan.reason,
        alpha: scan.alpha,
        R: scan.R,
        bankUtility: scan.bankUtility,
        agreesWithinStep:
          scan.reason === q.reason && Math.abs(scan.alpha - q.alpha) <= input.scanStep * (1 + 1e-9),
      },
    };
  });
  const sum = (pick: (b: PricedBorrower) => number) => borrowers.reduce((s, b) => s + pick(b), 0);
  return {
    alphaMax: input.alphaMax,
    scanStep: input.scanStep,
    borrowers,
    totals: {
      loan: sum((b) => b.R),
      bankUtility: sum((b) => b.bankUtility),
      borrowerUtility: sum((b) => b.borrowerUtility),
    },
  };
}
