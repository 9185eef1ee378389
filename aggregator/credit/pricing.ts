import { CreditError } from "./errors.js";

/**
 * Loan pricing as a Stackelberg game (seed 000 §IV, equations as repaired in DESIGN.md "Loan pricing"):
 * the credit bank leads by choosing the penalty rate α (the interest rate follows as β = α/(ηt)), every
 * borrower follows with the loan amount R that maximises its own utility.
 *
 * This is a pricing model, so it computes in floating point; amounts that enter the ledger are rounded
 * to integer milli-coins by the bank (see bank/loan rounding rules in docs/CREDIT.md).
 */
export interface BorrowerParams {
  /** satisfaction factor d_i > 0 */
  d: number;
  /** satisfaction offset θ_i > 0 */
  theta: number;
  /** minimum energy demand Qmin_i ≥ 0 */
  qMin: number;
  /** energy price p_i > 0 (coins per unit of energy) */
  p: number;
  /** loan duration t_i ∈ (0, 10] months (the seed's Table II range) */
  t: number;
  /** repayment ability λ_i ∈ (0, 1] */
  lambda: number;
  /** credit-grade factor γ_i ∈ (0, 1] */
  gamma: number;
  /** unit penalty η_i > 1 */
  eta: number;
  /** unit cost c_i ≥ 0 of the loan for the bank */
  c: number;
}

/**
 * Why the bank offers no loan, checked in this order:
 * - `K_POSITIVE`: k > 0. The bank's utility rises without bound in α there; the seed's convention is
 *   α* = 0, where the borrower's best response is unbounded, and its Algorithm 1 records R* = 0.
 * - `ZERO_COST`: c = 0. The bank's utility then falls in α and its supremum is at α → 0, where the loan is
 *   unbounded: no price is optimal.
 * - `NO_POSITIVE_AMOUNT`: R* ≤ 0 at the optimum. α* is the geometric mean of the α where R reaches 0 and
 *   the α where the bank's margin reaches 0; R* ≤ 0 means no α gives a positive loan with a positive margin.
 * - `NOT_PROFITABLE`: the bank's utility at its (capped) optimum is not positive.
 */
export type NoLoanReason = "K_POSITIVE" | "ZERO_COST" | "NO_POSITIVE_AMOUNT" | "NOT_PROFITABLE";

export const NO_LOAN_REASONS: Readonly<Record<NoLoanReason, string>> = {
  K_POSITIVE: "k > 0: the seed's convention α* = 0 leaves the best response unbounded",
  ZERO_COST: "c = 0: the bank's utility is highest as α → 0, where the loan is unbounded",
  NO_POSITIVE_AMOUNT: "R* ≤ 0: no price gives a positive loan that pays the bank",
  NOT_PROFITABLE: "the bank's utility at its optimum is not positive",
};

export interface Quote {
  /** k_i = Qmin_i p_i − θ_i p_i: the borrower's constraint is R > k */
  k: number;
  /** whether the bank offers a loan at all */
  offered: boolean;
  /** why not, when it does not */
  reason: NoLoanReason | null;
  /** penalty rate α* */
  alpha: number;
  /** interest rate β* = α* / (η t) */
  beta: number;
  /** loan amount R* (coins); 0 when no loan is offered */
  R: number;
  bankUtility: number;
  borrowerUtility: number;
}

/** Validates one borrower's parameters, naming the first one out of range. */
export function checkBorrowerParams(b: BorrowerParams): void {
  const bad = (field: string, rule: string): never => {
    throw new CreditError("BAD_PARAMETERS", `borrower parameter ${field} must be ${rule}`, { field });
  };
  const finite = (field: keyof BorrowerParams) => {
    if (typeof b[field] !== "number" || !Number.isFinite(b[field])) bad(field, "a finite number");
  };
  for (const f of ["d", "theta", "qMin", "p", "t", "lambda", "gamma", "eta", "c"] as const) finite(f);
  if (b.d <= 0) bad("d", "> 0");
  if (b.theta <= 0) bad("theta", "> 0");
  if (b.qMin < 0) bad("qMin", "≥ 0");
  if (b.p <= 0) bad("p", "> 0");
  if (b.t <= 0 || b.t > 10) bad("t", "in (0, 10] months");
  if (b.lambda <= 0 || b.lambda > 1) bad("lambda", "in (0, 1]");
  if (b.gamma <= 0 || b.gamma > 1) bad("gamma", "in (0, 1]");
  if (b.eta <= 1) bad("eta", "> 1");
  if (b.c < 0) bad("c", "≥ 0");
}

export function kOf(b: BorrowerParams): number {
  return b.qMin * b.p - b.theta * b.p;
}

/** β from α by the seed's coupling α = η t β. */
export function betaOf(b: BorrowerParams, alpha: number): number {
  return alpha / (b.eta * b.t);
}

/** Follower's best response R* = λd / (λβt + (1 − λ)α) + k (seed eq. 8); needs α > 0. */
export function bestResponse(b: BorrowerParams, alpha: number, beta: number = betaOf(b, alpha)): number {
  return (b.lambda * b.d) / (b.lambda * beta * b.t + (1 - b.lambda) * alpha) + kOf(b);
}

/** u_sat = d ln(R/p − Qmin + θ) (seed eq. 1); −∞ outside the borrower's constraint R > k. */
export function satisfaction(b: BorrowerParams, R: number): number {
  const x = R / b.p - b.qMin + b.theta;
  return x > 0 ? b.d * Math.log(x) : Number.NEGATIVE_INFINITY;
}

/** u_i = λ(u_sat − βRt) − (1 − λ)αR (seed eq. 2). */
export function borrowerUtility(b: BorrowerParams, R: number, alpha: number, beta: number): number {
  return b.lambda * (satisfaction(b, R) - beta * R * b.t) - (1 - b.lambda) * alpha * R;
}

/** u_bc = γ(βRt − Rtc) + (1 − γ)αR (seed eq. 3). */
export function bankUtility(b: BorrowerParams, R: number, alpha: number, beta: number): number {
  return b.gamma * (beta * R * b.t - R * b.t * b.c) + (1 - b.gamma) * alpha * R;
}

/**
 * The leader's optimum in closed form (seed eq. 13): α* = 0 when k > 0 (the seed's convention: the
 * utility actually rises with α there); otherwise α* = min(√(−λdγtcη² / ((λ + η − λη) k (γ + (1 − γ)η))),
 * α_max). With k = 0 the bank's utility grows without bound in α, so the cap decides.
 */
export function optimalAlpha(b: BorrowerParams, alphaMax: number): number {
  const k = kOf(b);
  if (k > 0) return 0;
  if (k === 0) return alphaMax;
  const num = -b.lambda * b.d * b.gamma * b.t * b.c * b.eta * b.eta;
  const den = (b.lambda + b.eta - b.lambda * b.eta) * k * (b.gamma + (1 - b.gamma) * b.eta);
  return Math.min(Math.sqrt(num / den), alphaMax);
}

/** Everything about one borrower at a given α (the borrower responding optimally). */
export function quoteAt(b: BorrowerParams, alpha: number): Quote {
  const k = kOf(b);
  const beta = betaOf(b, alpha);
  const R = bestResponse(b, alpha, beta);
  return {
    k,
    offered: true,
    reason: null,
    alpha,
    beta,
    R,
    bankUtility: bankUtility(b, R, alpha, beta),
    borrowerUtility: borrowerUtility(b, R, alpha, beta),
  };
}

function noLoan(k: number, reason: NoLoanReason): Quote {
  return { k, offered: false, reason, alpha: 0, beta: 0, R: 0, bankUtility: 0, borrowerUtility: 0 };
}

/** The reason that holds before any α is tried: the seed's k > 0 convention, or c = 0. */
function reasonBeforePricing(b: BorrowerParams): NoLoanReason | null {
  if (kOf(b) > 0) return "K_POSITIVE";
  if (b.c === 0) return "ZERO_COST";
  return null;
}

/**
 * The one rule deciding whether a priced optimum is offered, shared by the closed form and Algorithm 1:
 * a loan only where R* > 0 and the bank's utility there is positive.
 */
export function offerOrNot(q: Quote): Quote {
  if (!(q.R > 0)) return noLoan(q.k, "NO_POSITIVE_AMOUNT");
  if (!(q.bankUtility > 0)) return noLoan(q.k, "NOT_PROFITABLE");
  return q;
}

/** The Stackelberg equilibrium by the closed form, or no loan with its reason. */
export function priceBorrower(b: BorrowerParams, alphaMax: number): Quote {
  checkBorrowerParams(b);
  checkAlphaMax(alphaMax);
  const before = reasonBeforePricing(b);
  if (before !== null) return noLoan(kOf(b), before);
  return offerOrNot(quoteAt(b, optimalAlpha(b, alphaMax)));
}

/**
 * The seed's Algorithm 1 as an independent check: scan α over (0, α_max] in steps, let the borrower
 * respond, keep the α with the highest bank utility, then apply the same offer rule. Unlike the seed's
 * listing it does not stop at the first decrease, so it relies on nothing but the definitions of the two
 * utilities.
 */
export function scanBorrower(b: BorrowerParams, alphaMax: number, step: number): Quote {
  checkBorrowerParams(b);
  checkAlphaMax(alphaMax);
  if (!(step > 0) || step > alphaMax) {
    throw new CreditError("BAD_PARAMETERS", "scan step must be in (0, alphaMax]", { step, alphaMax });
  }
  const before = reasonBeforePricing(b);
  if (before !== null) return noLoan(kOf(b), before);
  const n = Math.ceil(alphaMax / step);
  let best = quoteAt(b, Math.min(step, alphaMax));
  for (let i = 2; i <= n; i++) {
    const q = quoteAt(b, Math.min(i * step, alphaMax));
    if (q.bankUtility > best.bankUtility) best = q;
  }
  return offerOrNot(best);
}

function checkAlphaMax(alphaMax: number): void {
  if (!(alphaMax > 0) || !Number.isFinite(alphaMax)) {
    throw new CreditError("BAD_PARAMETERS", "alphaMax must be a positive finite number", { alphaMax });
  }
}

/** Prices every borrower of one bank; the leader's objective is separable, so each α is independent. */
export function priceBorrowers(bs: readonly BorrowerParams[], alphaMax: number): Quote[] {
  return bs.map((b) => priceBorrower(b, alphaMax));
}
