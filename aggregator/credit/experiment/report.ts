import { GRADES } from "../grades.js";
import { defaultScenarios, type Fig5Options, type Fig5Result, runFig5 } from "./fig5.js";
import { type Fig7Options, type Fig7Result, runFig7, SCHEMES } from "./fig7.js";
import { figureSvg } from "./svg.js";

/**
 * Turns experiment results into the files of docs/credit-results/: per figure a JSON table, a
 * Markdown table and an SVG plot. Returns file name → content; the caller writes them.
 */
export interface ExperimentOptions {
  seed: number;
  /** measured (or assumed) commit latency of our consensus, ms */
  commitLatencyMs: number;
  fig7?: Partial<Fig7Options>;
  fig5?: Partial<Fig5Options>;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function json(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? r3(v) : v), 2)}\n`;
}

function mdTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function fig7Files(r: Fig7Result): Record<string, string> {
  const o = r.options;
  const md = [
    "# Fig. 7: economic benefits of credit banks and borrowers",
    "",
    `Seed ${o.seed}; ${o.borrowers} borrowers in ${o.banks} banks; Table II parameters; grades drawn from the ` +
      `Lending Club distribution; RAS and AAS at interest ${o.interest} (α = ηtβ) lending the same total per ` +
      `bank as the optimal scheme; α_max = ${o.alphaMax}, η = ${o.eta}, Qmin ∈ [${o.qMin.join(", ")}], p = ${o.price}.`,
    "",
    "## (a) Utility of each credit bank",
    "",
    mdTable(
      ["bank", "borrowers", "loans (coins)", ...SCHEMES, "optimal ÷ RAS", "optimal ÷ AAS"],
      r.banks.map((b) => [
        b.bank,
        b.borrowers,
        r2(b.totalLoan),
        ...SCHEMES.map((s) => r2(b.bankUtility[s])),
        r2(b.bankUtility.optimal / b.bankUtility.RAS),
        r2(b.bankUtility.optimal / b.bankUtility.AAS),
      ]),
    ),
    "",
    "## (b) Utility of the borrowers of each bank",
    "",
    mdTable(
      ["bank", ...SCHEMES],
      r.banks.map((b) => [b.bank, ...SCHEMES.map((s) => r2(b.borrowerUtility[s]))]),
    ),
    "",
    "## Totals",
    "",
    mdTable(
      ["measure", ...SCHEMES],
      [
        ["bank utility", ...SCHEMES.map((s) => r2(r.totals.bankUtility[s]))],
        ["borrower utility", ...SCHEMES.map((s) => r2(r.totals.borrowerUtility[s]))],
      ],
    ),
    "",
    "## Grades drawn",
    "",
    mdTable(
      ["grade", "borrowers"],
      GRADES.filter((g) => r.gradeCounts[g] !== undefined).map((g) => [g, r.gradeCounts[g]]),
    ),
    "",
  ].join("\n");
  const cats = r.banks.map((b) => `bank ${b.bank}`);
  const svg = figureSvg(`Fig. 7 (seed ${o.seed}): optimal pricing vs RAS and AAS at interest ${o.interest}`, [
    {
      kind: "bar",
      title: "(a) credit banks' utility",
      categories: cats,
      series: SCHEMES.map((s) => ({ name: s, values: r.banks.map((b) => b.bankUtility[s]) })),
      yLabel: "utility of the bank",
    },
    {
      kind: "bar",
      title: "(b) borrowers' utility",
      categories: cats,
      series: SCHEMES.map((s) => ({ name: s, values: r.banks.map((b) => b.borrowerUtility[s]) })),
      yLabel: "total utility of its borrowers",
    },
  ]);
  return { "fig7.json": json(r), "fig7.md": md, "fig7.svg": svg };
}

export function fig5Files(r: Fig5Result): Record<string, string> {
  const o = r.options;
  const md = [
    "# Fig. 5: confirmation time and trading speed, with and without credit",
    "",
    `Seed ${o.seed}; ${o.pairs} pairs of nodes over ${o.horizonMin} min, ${o.repetitions} independent ` +
      `repetitions averaged; trade frequency drawn from ` +
      `{${o.frequencies.join(", ")}} per hour, Poisson wishes; ${o.initialCoins} coins per node, ` +
      `${o.tradeCoins} coins per trade; the partners take turns paying.`,
    "",
    mdTable(
      [
        "confirmation",
        "credit",
        "frequency (per h)",
        "pair runs",
        "trades/h done",
        "avg confirmation wait (min)",
        "avg delay before trading (min)",
        "total confirmation per node (min)",
      ],
      r.rows.map((x) => [
        x.scenario,
        x.credit ? "yes" : "no",
        x.frequency === "all" ? "all" : x.frequency,
        x.pairs,
        r2(x.tradesPerHour),
        r3(x.avgConfirmationWaitMin),
        r3(x.avgDelayMin),
        r2(x.totalConfirmationMinPerNode),
      ]),
    ),
    "",
  ].join("\n");
  const byFreq = r.rows.filter((x) => x.frequency !== "all");
  const series = (pick: (row: Fig5Result["rows"][number]) => number) =>
    o.scenarios.flatMap((sc) =>
      [false, true].map((credit) => ({
        name: `${sc.label}, ${credit ? "credit" : "no credit"}`,
        values: o.frequencies.map((fq) =>
          pick(byFreq.find((x) => x.scenario === sc.label && x.credit === credit && x.frequency === fq)!),
        ),
      })),
    );
  const svg = figureSvg(`Fig. 5 (seed ${o.seed}): ${o.pairs} pairs over ${o.horizonMin} min`, [
    {
      kind: "line",
      title: "(a) average confirmation wait",
      x: o.frequencies,
      series: series((x) => x.avgConfirmationWaitMin),
      xLabel: "trade frequency (per hour)",
      yLabel: "minutes from wish to confirmed payment",
    },
    {
      kind: "line",
      title: "(b) trading speed",
      x: o.frequencies,
      series: series((x) => x.tradesPerHour),
      xLabel: "trade frequency (per hour)",
      yLabel: "trades per hour",
    },
  ]);
  return { "fig5.json": json(r), "fig5.md": md, "fig5.svg": svg };
}

export function runExperiment(opts: ExperimentOptions): { fig7: Fig7Result; fig5: Fig5Result } {
  const fig7 = runFig7({ ...opts.fig7, seed: opts.seed });
  const scenarios = opts.fig5?.scenarios ?? defaultScenarios(opts.commitLatencyMs);
  const fig5 = runFig5({ ...opts.fig5, seed: opts.seed, scenarios });
  return { fig7, fig5 };
}

export function experimentFiles(opts: ExperimentOptions): Record<string, string> {
  const { fig7, fig5 } = runExperiment(opts);
  return { ...fig7Files(fig7), ...fig5Files(fig5) };
}

/** The headline numbers, for the command's output. */
export function experimentSummary(r: { fig7: Fig7Result; fig5: Fig5Result }) {
  return {
    fig7: { bankUtility: r.fig7.totals.bankUtility, borrowerUtility: r.fig7.totals.borrowerUtility },
    fig5: r.fig5.rows
      .filter((x) => x.frequency === "all")
      .map((x) => ({
        scenario: x.scenario,
        credit: x.credit,
        tradesPerHour: r3(x.tradesPerHour),
        avgConfirmationWaitMin: r3(x.avgConfirmationWaitMin),
      })),
  };
}
