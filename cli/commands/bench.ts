import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CommandModule } from "yargs";
import { EXIT_RUNTIME } from "../../protocol/exit-codes.js";
import { UsageError } from "../exit.js";
import { Progress } from "../progress.js";

const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const benchDir = join(outDir, "bench");

/**
 * A benchmark's module: from the bundle when the program runs bundled (scripts/bundle.mjs), so that it
 * shares this process's modules, else the compiled file.
 */
function benchModule(name: string): string {
  const bundled = join(outDir, "bundle", `bench-${name}.js`);
  return existsSync(bundled) ? bundled : join(benchDir, `${name}.js`);
}

export function benchNames(): string[] {
  try {
    return readdirSync(benchDir)
      .filter((f) => f.endsWith(".js") && !f.endsWith(".test.js") && !f.startsWith("_"))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

/** Benchmarks whose run() takes an options object (the others take a number, or nothing). */
const TAKES_OPTIONS = new Set([
  "consensus",
  "consortium-scale",
  "ingest",
  "modbus-rtu",
  "modbus-serial-compare",
]);

export const benchCommand: CommandModule = {
  command: "bench [names..]",
  describe:
    "run benchmarks; each prints one JSON object (figures and ratios against limits measured in the same run)",
  builder: (y) =>
    y
      .positional("names", { type: "string", array: true, describe: "benchmarks to run (default: all)" })
      .option("list", { type: "boolean", default: false, describe: "list the benchmarks" })
      .option("aggregators", { type: "number", describe: "consortium-scale: member processes" })
      .option("kill", { type: "number", describe: "consortium-scale: members killed -9 halfway through" })
      .option("rtt-ms", { type: "number", describe: "consortium-scale: round trip between members (netem)" })
      .option("seconds", { type: "number", describe: "length of the measurement" })
      .option("rate", { type: "number", describe: "consortium-scale: transactions offered per second" })
      .option("netns", { type: "boolean", describe: "consortium-scale: each member in its own namespace" })
      .option("slot-timeout-ms", {
        type: "number",
        describe: "consortium-scale: the members' consensus slotTimeoutMs (default: the production default)",
      })
      .check((a) => {
        for (const k of ["aggregators", "kill", "rtt-ms", "seconds", "rate", "slot-timeout-ms"]) {
          const v = a[k];
          if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0))
            throw new UsageError("USAGE", `--${k}: ${String(v)} is not a non-negative number`);
        }
        const slot = a["slot-timeout-ms"];
        if (slot !== undefined && (!Number.isSafeInteger(slot) || (slot as number) < 10))
          throw new UsageError(
            "USAGE",
            `--slot-timeout-ms: ${String(slot)} is not a whole number of at least 10`,
          );
        return true;
      })
      .example("$0 bench crypto", "ed25519 sign/verify rates of the three implementations")
      .example("$0 bench consortium-scale --aggregators 16 --kill 5", "16 aggregator processes, 5 killed")
      .example("$0 bench", "every benchmark, one JSON line each"),
  handler: async (a) => {
    const all = benchNames();
    if (a.list) {
      for (const n of all) console.log(n);
      return;
    }
    const wanted = (a.names as string[] | undefined)?.length ? (a.names as string[]) : all;
    for (const name of wanted) {
      if (!all.includes(name))
        throw new UsageError("USAGE", `no benchmark "${name}" (have: ${all.join(", ")})`);
    }
    // only the options given on the command line reach the benchmarks (each keeps its own defaults)
    const opts: Record<string, unknown> = {};
    for (const [flag, key] of [
      ["aggregators", "aggregators"],
      ["kill", "kill"],
      ["rtt-ms", "rttMs"],
      ["seconds", "seconds"],
      ["rate", "rate"],
      ["netns", "netns"],
    ]) {
      if (a[flag] !== undefined) opts[key] = a[flag];
    }
    if (a["slot-timeout-ms"] !== undefined) opts.consensus = { slotTimeoutMs: a["slot-timeout-ms"] };
    // Some benchmarks take tens of seconds: on a terminal, stderr shows which one runs and for how long.
    const progress = new Progress(wanted.length);
    for (const [i, name] of wanted.entries()) {
      progress.step(i, name);
      const mod = (await import(pathToFileURL(benchModule(name)).href)) as {
        run?: (o?: Record<string, unknown>) => Promise<Record<string, unknown>>;
      };
      if (typeof mod.run !== "function") throw new UsageError("USAGE", `bench/${name} does not export run()`);
      // only the benchmarks that take an options object get one; the others keep their own defaults
      const result = await (TAKES_OPTIONS.has(name) ? mod.run(opts) : mod.run());
      progress.done();
      console.log(JSON.stringify(result));
      // a benchmark that could not measure what it is for says so in its JSON, and the exit code follows
      if (result.completed === false) process.exitCode = EXIT_RUNTIME;
    }
  },
};
