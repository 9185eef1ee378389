import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DEFAULT_CREDIT_CONFIG } from "../aggregator/credit/config.js";
import { isCreditError } from "../aggregator/credit/errors.js";
import {
  drawGrade,
  GRADES,
  gammaOfGrade,
  gradeIndex,
  gradeOfCredit,
  lendingClubCdf,
  repaymentAbility,
} from "../aggregator/credit/grades.js";
import {
  type BorrowerParams,
  bankUtility,
  bestResponse,
  betaOf,
  borrowerUtility,
  kOf,
  NO_LOAN_REASONS,
  optimalAlpha,
  priceBorrower,
  quoteAt,
  scanBorrower,
} from "../aggregator/credit/pricing.js";
import { loanTerms } from "../aggregator/credit/terms.js";

const ALPHA_MAX = 10;
const STEP = 0.001;

/** Table II's ranges; Qmin and p are ours (the seed gives none), with Qmin < θ so that k < 0. */
const tableII = fc.record({
  d: fc.double({ min: 20_000, max: 20_400, noNaN: true }),
  theta: fc.double({ min: 2000, max: 2500, noNaN: true }),
  qMinShare: fc.double({ min: 0, max: 0.95, noNaN: true }),
  p: fc.double({ min: 0.5, max: 2, noNaN: true }),
  t: fc.double({ min: 0.1, max: 10, noNaN: true }),
  lambda: fc.double({ min: 0.01, max: 1, noNaN: true }),
  grade: fc.integer({ min: 1, max: 35 }),
  c: fc.double({ min: 0.1, max: 0.2, noNaN: true }),
});

function toParams(r: {
  d: number;
  theta: number;
  qMinShare: number;
  p: number;
  t: number;
  lambda: number;
  grade: number;
  c: number;
}): BorrowerParams {
  return {
    d: r.d,
    theta: r.theta,
    qMin: r.qMinShare * r.theta,
    p: r.p,
    t: r.t,
    lambda: r.lambda,
    gamma: gammaOfGrade(r.grade),
    eta: 3.5,
    c: r.c,
  };
}

const example: BorrowerParams = {
  d: 20_000,
  theta: 2000,
  qMin: 1000,
  p: 1,
  t: 5,
  lambda: 0.9,
  gamma: 0.8,
  eta: 3.5,
  c: 0.15,
};

test("closed form on a hand-computed example: α* = 8.4, β* = 0.48, R* = 5000", () => {
  // α*² = 0.9·20000·0.8·5·0.15·3.5² / (1.25 · 1000 · 1.5) = 70.56
  const q = priceBorrower(example, ALPHA_MAX);
  assert.ok(Math.abs(q.alpha - 8.4) < 1e-9, `alpha ${q.alpha}`);
  assert.ok(Math.abs(q.beta - 0.48) < 1e-9, `beta ${q.beta}`);
  assert.ok(Math.abs(q.R - 5000) < 1e-6, `R ${q.R}`);
  assert.equal(q.k, -1000);
  const expectedBank = 0.8 * (0.48 * 5000 * 5 - 5000 * 5 * 0.15) + 0.2 * 8.4 * 5000;
  assert.ok(Math.abs(q.bankUtility - expectedBank) < 1e-6);
  const expectedBorrower = 0.9 * (20_000 * Math.log(5000 - 1000 + 2000) - 0.48 * 5000 * 5) - 0.1 * 8.4 * 5000;
  assert.ok(Math.abs(q.borrowerUtility - expectedBorrower) < 1e-6);
});

test("closed form and the seed's Algorithm 1 agree within the scan step (Table II ranges)", () => {
  fc.assert(
    fc.property(tableII, (r) => {
      const b = toParams(r);
      const closed = priceBorrower(b, ALPHA_MAX);
      const scan = scanBorrower(b, ALPHA_MAX, STEP);
      assert.ok(
        Math.abs(closed.alpha - scan.alpha) <= STEP + 1e-12,
        `closed ${closed.alpha} scan ${scan.alpha}`,
      );
      // the scan never finds a better price than the closed form
      assert.ok(scan.bankUtility <= closed.bankUtility + 1e-9 * Math.abs(closed.bankUtility));
    }),
    { numRuns: 60, seed: 42 },
  );
});

test("the bank's utility at α* is above its value at neighbouring α on both sides", () => {
  fc.assert(
    fc.property(tableII, fc.double({ min: 1e-4, max: 0.05, noNaN: true }), (r, rel) => {
      const b = toParams(r);
      // the optimum itself, before the offer rule
      const q = quoteAt(b, optimalAlpha(b, ALPHA_MAX));
      const delta = Math.max(q.alpha * rel, 1e-6);
      const lower = quoteAt(b, q.alpha - delta);
      assert.ok(q.bankUtility > lower.bankUtility, `below: ${q.bankUtility} vs ${lower.bankUtility}`);
      if (q.alpha < ALPHA_MAX) {
        const upper = quoteAt(b, q.alpha + delta);
        assert.ok(q.bankUtility > upper.bankUtility, `above: ${q.bankUtility} vs ${upper.bankUtility}`);
      } else {
        // capped: the unconstrained optimum lies further right, so utility still rises up to α_max
        assert.ok(optimalAlpha(b, Number.MAX_VALUE) >= ALPHA_MAX);
      }
    }),
    { numRuns: 200, seed: 7 },
  );
});

test("the borrower's best response maximises its utility and keeps R > k", () => {
  fc.assert(
    fc.property(tableII, fc.double({ min: 0.01, max: ALPHA_MAX, noNaN: true }), (r, alpha) => {
      const b = toParams(r);
      const beta = betaOf(b, alpha);
      const R = bestResponse(b, alpha, beta);
      assert.ok(R > kOf(b), `R ${R} must exceed k ${kOf(b)}`);
      const u = borrowerUtility(b, R, alpha, beta);
      for (const f of [0.99, 1.01]) assert.ok(u >= borrowerUtility(b, R * f + (f - 1), alpha, beta));
      const q = priceBorrower(b, ALPHA_MAX);
      assert.ok(q.R > q.k);
    }),
    { numRuns: 200, seed: 3 },
  );
});

test("k > 0 gives α* = 0 and no loan, by the closed form and by Algorithm 1", () => {
  fc.assert(
    fc.property(tableII, fc.double({ min: 1.001, max: 3, noNaN: true }), (r, over) => {
      const b = { ...toParams(r), qMin: r.theta * over };
      assert.ok(kOf(b) > 0);
      assert.equal(optimalAlpha(b, ALPHA_MAX), 0);
      const q = priceBorrower(b, ALPHA_MAX);
      assert.deepEqual([q.offered, q.reason, q.alpha, q.beta, q.R], [false, "K_POSITIVE", 0, 0, 0]);
      const scan = scanBorrower(b, ALPHA_MAX, STEP);
      assert.deepEqual([scan.offered, scan.reason, scan.R], [false, "K_POSITIVE", 0]);
    }),
    { numRuns: 50, seed: 11 },
  );
});

test("λ = 0.00336 (record s = 1, f = 297): R* < 0 at the optimum, so no loan, by both methods", () => {
  const b = { ...example, lambda: 1 / 298 };
  assert.ok(Math.abs(b.lambda - 0.00336) < 1e-5);
  // the optimum before the offer rule: a negative loan, which used to be offered
  const raw = quoteAt(b, optimalAlpha(b, ALPHA_MAX));
  assert.ok(raw.R < 0, `R* ${raw.R}`);
  const q = priceBorrower(b, ALPHA_MAX);
  assert.deepEqual([q.offered, q.reason, q.R, q.alpha], [false, "NO_POSITIVE_AMOUNT", 0, 0]);
  const scan = scanBorrower(b, ALPHA_MAX, STEP);
  assert.deepEqual([scan.offered, scan.reason, scan.R], [false, "NO_POSITIVE_AMOUNT", 0]);
  assert.match(NO_LOAN_REASONS.NO_POSITIVE_AMOUNT, /R\* ≤ 0/);
});

test("c = 0: no loan (ZERO_COST) from the closed form and from Algorithm 1 alike", () => {
  const b = { ...example, c: 0 };
  const q = priceBorrower(b, ALPHA_MAX);
  const scan = scanBorrower(b, ALPHA_MAX, STEP);
  assert.deepEqual([q.offered, q.reason], [false, "ZERO_COST"]);
  assert.deepEqual([scan.offered, scan.reason, scan.R], [false, "ZERO_COST", 0]);
  // why: along the best response the bank's utility falls in α, so no α > 0 is its optimum
  assert.ok(quoteAt(b, STEP).bankUtility > quoteAt(b, 2 * STEP).bankUtility);
});

test("a cap below the break-even rate: the bank's utility at α_max is negative, so no loan", () => {
  // margin per coin at α is α(γ/η + 1 − γ) − γtc: zero at α = 0.6 / (0.8/3.5 + 0.2) = 1.4
  const q = priceBorrower(example, 0.5);
  assert.deepEqual([q.offered, q.reason], [false, "NOT_PROFITABLE"]);
  assert.ok(quoteAt(example, 0.5).R > 0 && quoteAt(example, 0.5).bankUtility < 0);
  assert.equal(scanBorrower(example, 0.5, STEP).reason, "NOT_PROFITABLE");
});

test("an offered loan always has R* > 0 and a positive bank utility; both methods give the same reason", () => {
  const anyLambda = fc.record({
    base: tableII,
    lambda: fc.double({ min: 0.0005, max: 1, noNaN: true }),
    alphaMax: fc.constantFrom(0.5, 2, 10),
  });
  fc.assert(
    fc.property(anyLambda, ({ base, lambda, alphaMax }) => {
      const b = { ...toParams(base), lambda };
      const q = priceBorrower(b, alphaMax);
      const scan = scanBorrower(b, alphaMax, STEP);
      if (q.offered) assert.ok(q.R > 0 && q.bankUtility > 0, JSON.stringify(q));
      else assert.deepEqual([q.R, q.alpha], [0, 0]);
      // α where the loan reaches 0 and α where the bank's margin reaches 0: where they lie within a
      // scan step of each other, the grid may miss the narrow band of profitable loans
      const h = b.lambda / b.eta + 1 - b.lambda;
      const zeroLoan = (b.lambda * b.d) / (h * -kOf(b));
      const zeroMargin = (b.gamma * b.t * b.c) / (b.gamma / b.eta + 1 - b.gamma);
      const near = Math.abs(zeroLoan - zeroMargin) < 2 * STEP || Math.abs(zeroMargin - alphaMax) < 2 * STEP;
      if (!near) assert.equal(scan.reason, q.reason, JSON.stringify({ b, alphaMax }));
    }),
    { numRuns: 150, seed: 5 },
  );
});

test("k = 0 lets the cap decide: α* = α_max", () => {
  const b = { ...example, qMin: example.theta };
  assert.equal(kOf(b), 0);
  assert.equal(optimalAlpha(b, ALPHA_MAX), ALPHA_MAX);
});

test("bank utility follows eq. 3 and the utilities match quoteAt", () => {
  const q = quoteAt(example, 2);
  assert.equal(q.bankUtility, bankUtility(example, q.R, 2, betaOf(example, 2)));
  assert.equal(q.beta, 2 / (3.5 * 5));
});

test("bad parameters are refused with a typed error naming the field", () => {
  for (const [field, value] of [
    ["lambda", 0],
    ["lambda", 1.5],
    ["gamma", 0],
    ["eta", 1],
    ["t", 0],
    ["t", 10.5],
    ["p", -1],
    ["d", Number.NaN],
  ] as const) {
    assert.throws(
      () => priceBorrower({ ...example, [field]: value }, ALPHA_MAX),
      (e) => isCreditError(e, "BAD_PARAMETERS") && e.context.field === field,
    );
  }
  assert.throws(
    () => priceBorrower(example, 0),
    (e) => isCreditError(e, "BAD_PARAMETERS"),
  );
  assert.throws(
    () => scanBorrower(example, ALPHA_MAX, 0),
    (e) => isCreditError(e, "BAD_PARAMETERS"),
  );
});

test("35 sub-grades A1…G5 with γ = 1 − (n−1)/35", () => {
  assert.equal(GRADES.length, 35);
  assert.equal(GRADES[0], "A1");
  assert.equal(GRADES[34], "G5");
  assert.equal(gradeIndex("C3"), 13);
  assert.equal(gammaOfGrade(1), 1);
  assert.ok(Math.abs(gammaOfGrade(35) - 1 / 35) < 1e-15);
  assert.equal(gammaOfGrade(gradeIndex("B1")), 1 - 5 / 35);
  assert.throws(
    () => gradeIndex("H1"),
    (e) => isCreditError(e, "BAD_PARAMETERS"),
  );
  assert.throws(
    () => gammaOfGrade(36),
    (e) => isCreditError(e, "BAD_PARAMETERS"),
  );
  // credit value → grade: every 100 points lift one sub-grade from G5
  assert.equal(gradeOfCredit(0, 100), 35);
  assert.equal(gradeOfCredit(250, 100), 33);
  assert.equal(gradeOfCredit(1e9, 100), 1);
});

test("λ = s/(s+f) from the record, with the configured value for a new borrower", () => {
  assert.equal(repaymentAbility(3, 1, 1), 0.75);
  assert.equal(repaymentAbility(0, 0, 0.9), 0.9);
  assert.equal(repaymentAbility(0, 4, 1), 0.01);
});

test("Lending Club grade draws follow the letter shares", () => {
  const cdf = lendingClubCdf();
  assert.equal(cdf.length, 35);
  assert.equal(cdf[34], 1);
  for (let i = 1; i < 35; i++) assert.ok(cdf[i] > cdf[i - 1]);
  const counts = new Array(7).fill(0);
  const n = 20_000;
  for (let i = 0; i < n; i++) counts[Math.floor((drawGrade((i + 0.5) / n, cdf) - 1) / 5)]++;
  // B is the most common letter, G the rarest
  assert.ok(Math.abs(counts[1] / n - 0.29 / 1.012) < 0.01);
  assert.ok(counts[6] < counts[5] && counts[5] < counts[4]);
});

test("ledger rounding: principal ≤ ⌊R*·1000⌋ and ≤ the amount asked; interest and penalty rounded up", () => {
  const record = { credit: 2000, s: 0, f: 0, paymentHashes: [], activeLoan: null };
  const demand = { qMin: 1000, price: 1 };
  const t = loanTerms(DEFAULT_CREDIT_CONFIG, record, demand, 10_000_000_000);
  assert.equal(t.principal, Math.floor(t.quote.R * 1000));
  assert.ok(Number.isSafeInteger(t.interest) && Number.isSafeInteger(t.penaltyIfLate));
  assert.equal(t.interestPpm, Math.round(t.quote.beta * 1e6));
  const exactInterest = (t.principal * t.interestPpm * DEFAULT_CREDIT_CONFIG.termDays) / 30 / 1e6;
  assert.ok(t.interest >= exactInterest && t.interest < exactInterest + 1);
  const exactPenalty = (t.principal * t.penaltyPpm) / 1e6;
  assert.ok(t.penaltyIfLate >= exactPenalty && t.penaltyIfLate < exactPenalty + 1);
  const small = loanTerms(DEFAULT_CREDIT_CONFIG, record, demand, 5_000);
  assert.equal(small.principal, 5_000);
});
