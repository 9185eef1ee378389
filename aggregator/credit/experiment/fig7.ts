import { drawGrade, GRADES, gammaOfGrade, lendingClubCdf } from "../grades.js";
import { type BorrowerParams, bankUtility, borrowerUtility, priceBorrower } from "../pricing.js";
import { createRng } from "./rng.js";

/**
 * Seed 000, Fig. 7: the economic benefit of optimal (Stackelberg) loan pricing for credit banks and
 * borrowers against two heuristic schemes at a fixed interest rate: RAS (each borrower gets a random
 * amount) and AAS (each gets the average amount). Both heuristics lend the same total per bank as the
 * optimal scheme, so that only the pricing and the split differ (the seed does not say how much the
 * heuristics lend; this is our choice, see docs/CREDIT.md).
 */
export interface Fig7Options {
  seed: number;
  borrowers: number;
  banks: number;
  /** interest rate β of RAS and AAS (seed: 0.1); their penalty rate is α = ηtβ */
  interest: number;
  alphaMax: number;
  eta: number;
  /** Table II gives no Qmin or p: Qmin is drawn from this range and p is fixed, so k = (Qmin − θ)p < 0 */
  qMin: [number, number];
  price: number;
}

export const DEFAULT_FIG7: Fig7Options = {
  seed: 1,
  borrowers: 100,
  banks: 5,
  interest: 0.1,
  alphaMax: 10,
  eta: 3.5,
  qMin: [1000, 1500],
  price: 1,
};

export type Scheme = "optimal" | "RAS" | "AAS";
export const SCHEMES: readonly Scheme[] = ["optimal", "RAS", "AAS"];

export interface Fig7Borrower extends BorrowerParams {
  bank: number;
  grade: string;
}

export interface Fig7BankRow {
  bank: number;
  borrowers: number;
  /** total lent by every scheme, coins */
  totalLoan: number;
  bankUtility: Record<Scheme, number>;
  borrowerUtility: Record<Scheme, number>;
}

export interface Fig7Result {
  options: Fig7Options;
  gradeCounts: Record<string, number>;
  banks: Fig7BankRow[];
  totals: { bankUtility: Record<Scheme, number>; borrowerUtility: Record<Scheme, number> };
}

/** Table II draws: d, θ, c uniform in their ranges; t and λ uniform in (0, 10] and (0, 1]; grades from Fig. 6. */
export function drawBorrowers(o: Fig7Options): Fig7Borrower[] {
  const rng = createRng(o.seed);
  const cdf = lendingClubCdf();
  const perBank = Math.ceil(o.borrowers / o.banks);
  const out: Fig7Borrower[] = [];
  for (let i = 0; i < o.borrowers; i++) {
    const grade = drawGrade(rng.next(), cdf);
    out.push({
      bank: Math.floor(i / perBank),
      grade: GRADES[grade - 1],
      d: rng.uniform(20_000, 20_400),
      theta: rng.uniform(2000, 2500),
      qMin: rng.uniform(o.qMin[0], o.qMin[1]),
      p: o.price,
      t: 10 * (1 - rng.next()),
      lambda: 1 - rng.next(),
      gamma: gammaOfGrade(grade),
      eta: o.eta,
      c: rng.uniform(0.1, 0.2),
    });
  }
  return out;
}

function zero(): Record<Scheme, number> {
  return { optimal: 0, RAS: 0, AAS: 0 };
}

export function runFig7(options: Partial<Fig7Options> = {}): Fig7Result {
  const o: Fig7Options = { ...DEFAULT_FIG7, ...options };
  const borrowers = drawBorrowers(o);
  // a separate stream for the RAS split, so that changing it never changes the borrowers
  const split = createRng(o.seed ^ 0x5eed7);
  const gradeCounts: Record<string, number> = {};
  for (const b of borrowers) gradeCounts[b.grade] = (gradeCounts[b.grade] ?? 0) + 1;
  const banks: Fig7BankRow[] = [];
  const totals = { bankUtility: zero(), borrowerUtility: zero() };
  for (let bank = 0; bank < o.banks; bank++) {
    const group = borrowers.filter((b) => b.bank === bank);
    if (group.length === 0) continue;
    const row: Fig7BankRow = {
      bank: bank + 1,
      borrowers: group.length,
      totalLoan: 0,
      bankUtility: zero(),
      borrowerUtility: zero(),
    };
    const quotes = group.map((b) => priceBorrower(b, o.alphaMax));
    for (const q of quotes) {
      row.totalLoan += q.R;
      row.bankUtility.optimal += q.bankUtility;
      row.borrowerUtility.optimal += q.borrowerUtility;
    }
    const weights = group.map(() => split.next());
    const wsum = weights.reduce((s, x) => s + x, 0);
    group.forEach((b, i) => {
      const beta = o.interest;
      const alpha = b.eta * b.t * beta;
      const amounts: Record<"RAS" | "AAS", number> = {
        RAS: (row.totalLoan * weights[i]) / wsum,
        AAS: row.totalLoan / group.length,
      };
      for (const s of ["RAS", "AAS"] as const) {
        row.bankUtility[s] += bankUtility(b, amounts[s], alpha, beta);
        row.borrowerUtility[s] += borrowerUtility(b, amounts[s], alpha, beta);
      }
    });
    for (const s of SCHEMES) {
      totals.bankUtility[s] += row.bankUtility[s];
      totals.borrowerUtility[s] += row.borrowerUtility[s];
    }
    banks.push(row);
  }
  return { options: o, gradeCounts, banks, totals };
}
