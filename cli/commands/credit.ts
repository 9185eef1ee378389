import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import type { CommandModule } from "yargs";
import { parse as parseYaml } from "#yaml";
import { isCreditError } from "../../aggregator/credit/errors.js";
import {
  experimentSummary,
  fig5Files,
  fig7Files,
  runExperiment,
} from "../../aggregator/credit/experiment/report.js";
import { priceReport } from "../../aggregator/credit/price-report.js";
import { UsageError } from "../exit.js";

/** Borrower flags of `credit price`, as named on the command line and in the input file. */
const BORROWER_FLAGS = ["d", "theta", "qMin", "p", "t", "lambda", "s", "f", "gamma", "grade", "c"] as const;

function readParamsFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError("CONFIG", `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return [".yaml", ".yml"].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      "CONFIG",
      `${path} is not valid ${extname(path) === ".json" ? "JSON" : "JSON or YAML"}: ${(e as Error).message}`,
    );
  }
}

function usageOnBadParameters<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isCreditError(e, "BAD_PARAMETERS")) throw new UsageError("CONFIG", e.message);
    throw e;
  }
}

const price: CommandModule = {
  command: "price",
  describe: "price loans by the Stackelberg game: each borrower's R*, α*, β* and both utilities, as JSON",
  builder: (y) =>
    y
      .option("file", {
        type: "string",
        describe: "JSON or YAML file: {eta?, alphaMax?, scanStep?, borrowers: [...]}",
      })
      .option("d", { type: "number", describe: "satisfaction factor d (Table II: 20000–20400)" })
      .option("theta", { type: "number", describe: "satisfaction offset θ (Table II: 2000–2500)" })
      .option("q-min", { type: "number", describe: "minimum energy demand Qmin" })
      .option("p", { type: "number", describe: "energy price p" })
      .option("t", { type: "number", describe: "loan duration t, months (0, 10]" })
      .option("lambda", { type: "number", describe: "repayment ability λ ∈ (0, 1] (or --s and --f)" })
      .option("s", { type: "number", describe: "loans repaid in time (λ = s/(s+f))" })
      .option("f", { type: "number", describe: "loans repaid late" })
      .option("gamma", { type: "number", describe: "credit-grade factor γ ∈ (0, 1] (or --grade)" })
      .option("grade", { type: "string", describe: "credit grade A1 … G5 (γ = 1 − (n−1)/35)" })
      .option("c", { type: "number", describe: "unit cost c of the loan (Table II: 0.1–0.2)" })
      .option("eta", { type: "number", describe: "unit penalty η > 1 (default 3.5)" })
      .option("alpha-max", { type: "number", describe: "cap α_max of the penalty rate (default 10)" })
      .option("scan-step", { type: "number", describe: "α step of Algorithm 1, the check (default 0.001)" })
      .example(
        "$0 credit price --d 20000 --theta 2000 --q-min 1000 --p 1 --t 5 --lambda 0.9 --gamma 0.8 --c 0.15",
        "one borrower (α* = 8.4, β* = 0.48, R* = 5000)",
      )
      .example("$0 credit price --file borrowers.yaml", "every borrower listed in a file"),
  handler: (a) => {
    const fromFile = a.file !== undefined ? readParamsFile(String(a.file)) : undefined;
    const borrower: Record<string, unknown> = {};
    for (const k of BORROWER_FLAGS) if (a[k] !== undefined) borrower[k] = a[k];
    let input: unknown;
    if (fromFile !== undefined) {
      if (Object.keys(borrower).length > 0) {
        throw new UsageError("USAGE", "give borrower parameters either in --file or as options, not both");
      }
      input = fromFile;
    } else {
      if (Object.keys(borrower).length === 0)
        throw new UsageError("USAGE", "give --file or the borrower's parameters");
      input = { borrowers: [borrower] };
    }
    if (typeof input === "object" && input !== null && !Array.isArray(input)) {
      const o = input as Record<string, unknown>;
      if (a.eta !== undefined) o.eta = a.eta;
      if (a.alphaMax !== undefined) o.alphaMax = a.alphaMax;
      if (a.scanStep !== undefined) o.scanStep = a.scanStep;
    }
    const report = usageOnBadParameters(() => priceReport(input));
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  },
};

const experiment: CommandModule = {
  command: "experiment",
  describe: "reproduce the seed's numerical study (Fig. 5 and Fig. 7): tables (JSON, Markdown) and SVG plots",
  builder: (y) =>
    y
      .option("out", { type: "string", demandOption: true, describe: "folder for the results" })
      .option("seed", {
        type: "number",
        default: 1,
        describe: "seed of the random draws (same seed, same files)",
      })
      .option("commit-latency-ms", {
        type: "number",
        default: 1000,
        describe: "our consensus' commit latency for Fig. 5 (until consensus measures one)",
      })
      .option("repetitions", { type: "number", default: 20, describe: "Fig. 5 repetitions averaged" })
      .example("$0 credit experiment --out docs/credit-results --seed 1", "write fig5.* and fig7.*")
      .example("$0 credit experiment --out /tmp/r --commit-latency-ms 85", "with a measured commit latency"),
  handler: (a) => {
    const seed = Number(a.seed);
    const latency = Number(a.commitLatencyMs);
    const repetitions = Number(a.repetitions);
    if (!Number.isInteger(seed) || seed < 0)
      throw new UsageError("USAGE", "--seed must be a non-negative integer");
    if (!(latency > 0) || !Number.isFinite(latency))
      throw new UsageError("USAGE", "--commit-latency-ms must be > 0");
    if (!Number.isInteger(repetitions) || repetitions < 1 || repetitions > 10_000) {
      throw new UsageError("USAGE", "--repetitions must be an integer in 1..10000");
    }
    const results = runExperiment({ seed, commitLatencyMs: latency, fig5: { repetitions } });
    const files = { ...fig7Files(results.fig7), ...fig5Files(results.fig5) };
    const out = String(a.out);
    mkdirSync(out, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(out, name), content);
    const summary = { out, files: Object.keys(files).sort(), ...experimentSummary(results) };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  },
};

export const creditCommand: CommandModule = {
  command: "credit <command>",
  describe: "credit bank: loan pricing and the seed's experiments",
  builder: (y) =>
    y
      .command(price)
      .command(experiment)
      .demandCommand(1, "name a credit command: price or experiment")
      .example("$0 credit price --help", "the pricing options"),
  handler: () => {},
};
