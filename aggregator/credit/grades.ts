import { CreditError } from "./errors.js";

/** Number of credit sub-grades, A1 … G5 (seed 000 §V-C, after the Lending Club data). */
export const GRADE_COUNT = 35;

const LETTERS = ["A", "B", "C", "D", "E", "F", "G"] as const;

/** The 35 sub-grade names in order, best first: A1, A2, …, G5. */
export const GRADES: readonly string[] = LETTERS.flatMap((l) => [1, 2, 3, 4, 5].map((s) => `${l}${s}`));

/** Position n (1 = A1 … 35 = G5) of a sub-grade name. */
export function gradeIndex(name: string): number {
  const i = GRADES.indexOf(name);
  if (i < 0) throw new CreditError("BAD_PARAMETERS", `unknown credit grade "${name}" (expected A1 … G5)`);
  return i + 1;
}

/** γ = 1 − (n − 1)/N: A1 gives 1, G5 gives 1/35, so γ stays in (0, 1]. */
export function gammaOfGrade(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > GRADE_COUNT) {
    throw new CreditError("BAD_PARAMETERS", `credit grade index must be an integer in 1..${GRADE_COUNT}`, {
      n,
    });
  }
  return 1 - (n - 1) / GRADE_COUNT;
}

/**
 * Repayment ability λ = s/(s + f) from the record RP(s, f). A borrower without any record has no
 * ratio; the bank configures what it assumes then (`newBorrowerLambda`). λ = 0 (never repaid on time)
 * is outside the model's (0, 1], so it is raised to `floor`.
 */
export function repaymentAbility(s: number, f: number, newBorrowerLambda: number, floor = 0.01): number {
  if (s + f === 0) return newBorrowerLambda;
  return Math.max(s / (s + f), floor);
}

/**
 * Sub-grade from a credit value: every `creditPerGrade` points above zero lifts the borrower one
 * sub-grade from G5, up to A1. This mapping is our reconstruction; the seed only says that grades
 * follow credit values.
 */
export function gradeOfCredit(credit: number, creditPerGrade: number): number {
  const steps = Math.floor(Math.max(credit, 0) / creditPerGrade);
  return Math.max(1, GRADE_COUNT - steps);
}

/**
 * Share of Lending Club loans per letter grade (seed Fig. 6, read off as in DESIGN.md); the five
 * sub-grades of a letter share its probability equally. Normalised, since the read-off shares sum to
 * slightly more than one.
 */
export const LENDING_CLUB_LETTER_SHARES: Readonly<Record<(typeof LETTERS)[number], number>> = {
  A: 0.17,
  B: 0.29,
  C: 0.28,
  D: 0.16,
  E: 0.08,
  F: 0.026,
  G: 0.006,
};

/** Cumulative distribution over grade indices 1..35, for drawing grades with a uniform number. */
export function lendingClubCdf(): number[] {
  const total = LETTERS.reduce((s, l) => s + LENDING_CLUB_LETTER_SHARES[l], 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const l of LETTERS) {
    for (let s = 0; s < 5; s++) {
      acc += LENDING_CLUB_LETTER_SHARES[l] / total / 5;
      cdf.push(acc);
    }
  }
  cdf[cdf.length - 1] = 1;
  return cdf;
}

/** Grade index for a uniform draw u ∈ [0, 1). */
export function drawGrade(u: number, cdf: readonly number[] = lendingClubCdf()): number {
  const i = cdf.findIndex((x) => u < x);
  return (i < 0 ? cdf.length - 1 : i) + 1;
}
