import { type CreditConfig, DAYS_PER_MONTH, termMonths } from "./config.js";
import { gammaOfGrade, gradeOfCredit, repaymentAbility } from "./grades.js";
import { type BorrowerParams, priceBorrower, type Quote } from "./pricing.js";
import type { BorrowerRecord, LoanPricing } from "./state.js";

/**
 * From the pricing model (floats, coins) to the ledger (integers, milli-coins). Every rounding favours
 * neither more lending than priced nor less than owed:
 * - principal = min(amount asked, ⌊R*·1000⌋): the bank never lends more than the equilibrium amount;
 * - rates are kept in parts per million, rounded to nearest: ppm = round(rate·10⁶);
 * - interest = ⌈principal · β_ppm · termDays / (30 · 10⁶)⌉ (β R t with t in months);
 * - penalty = ⌈principal · α_ppm / 10⁶⌉ (α R);
 * - credit decrease on a late loan = ⌈d · principal / 1000⌉ (d per whole coin).
 * The integer steps use BigInt, so every replica gets the same numbers whatever their size.
 */
export interface LoanTerms {
  quote: Quote;
  pricing: LoanPricing;
  principal: number;
  interestPpm: number;
  penaltyPpm: number;
  interest: number;
  penaltyIfLate: number;
}

/** The model's Qmin (kWh) and p (coins per kWh). */
export interface Demand {
  qMin: number;
  price: number;
}

/** From the signed request's integers (Wh, milli-coins per kWh) to the model's units. */
export function demandOf(d: { qMinWh: number; priceMcPerKwh: number }): Demand {
  return { qMin: d.qMinWh / 1000, price: d.priceMcPerKwh / 1000 };
}

const MILLION = 1_000_000n;

export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

export function toPpm(rate: number): number {
  return Math.round(rate * 1e6);
}

export function borrowerParams(config: CreditConfig, record: BorrowerRecord, demand: Demand): BorrowerParams {
  return {
    d: config.satisfactionD,
    theta: config.satisfactionTheta,
    qMin: demand.qMin,
    p: demand.price,
    t: termMonths(config),
    lambda: repaymentAbility(record.s, record.f, config.newBorrowerLambda),
    gamma: gammaOfGrade(gradeOfCredit(record.credit, config.creditPerGrade)),
    eta: config.eta,
    c: config.unitCost,
  };
}

export function loanTerms(
  config: CreditConfig,
  record: BorrowerRecord,
  demand: Demand,
  askedMc: number,
): LoanTerms {
  const params = borrowerParams(config, record, demand);
  const quote = priceBorrower(params, config.alphaMax);
  const priced = quote.offered ? Math.floor(quote.R * 1000) : 0;
  const principal = Math.max(0, Math.min(askedMc, priced));
  const interestPpm = toPpm(quote.beta);
  const penaltyPpm = toPpm(quote.alpha);
  const p = BigInt(principal);
  const interest = Number(
    ceilDiv(p * BigInt(interestPpm) * BigInt(config.termDays), BigInt(DAYS_PER_MONTH) * MILLION),
  );
  const penaltyIfLate = Number(ceilDiv(p * BigInt(penaltyPpm), MILLION));
  return {
    quote,
    pricing: {
      k: quote.k,
      lambda: params.lambda,
      gamma: params.gamma,
      grade: gradeOfCredit(record.credit, config.creditPerGrade),
      tMonths: params.t,
      alpha: quote.alpha,
      beta: quote.beta,
      R: quote.R,
    },
    principal,
    interestPpm,
    penaltyPpm,
    interest,
    penaltyIfLate,
  };
}

export function creditDecrease(config: CreditConfig, principal: number): number {
  return Math.ceil((config.creditDecreasePerCoin * principal) / 1000);
}
