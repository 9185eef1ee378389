import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CommandModule } from "yargs";
import { UsageError } from "../exit.js";
import { Progress } from "../progress.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench");

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

export const benchCommand: CommandModule = {
  command: "bench [names..]",
  describe:
    "run benchmarks; each prints one JSON object (figures and ratios against limits measured in the same run)",
  builder: (y) =>
    y
      .positional("names", { type: "string", array: true, describe: "benchmarks to run (default: all)" })
      .option("list", { type: "boolean", default: false, describe: "list the benchmarks" })
      .example("$0 bench crypto", "ed25519 sign/verify rates of the three implementations")
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
    // Some benchmarks take tens of seconds: on a terminal, stderr shows which one runs and for how long.
    const progress = new Progress(wanted.length);
    for (const [i, name] of wanted.entries()) {
      progress.step(i, name);
      const mod = (await import(pathToFileURL(join(benchDir, `${name}.js`)).href)) as {
        run?: () => Promise<Record<string, unknown>>;
      };
      if (typeof mod.run !== "function") throw new UsageError("USAGE", `bench/${name} does not export run()`);
      const result = await mod.run();
      progress.done();
      console.log(JSON.stringify(result));
    }
  },
};
