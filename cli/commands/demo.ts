import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandModule } from "yargs";
import { errorFamily } from "../../protocol/errors.js";
import { type LedgerSummary, ledgerHeightOf, summariseLedger } from "../demo/report.js";
import { type DemoLayout, writeDemoLayout } from "../demo/setup.js";
import { type Child, Supervisor } from "../demo/supervisor.js";
import { prepareDemoDir } from "../demo/workdir.js";
import { UsageError } from "../exit.js";

const LOGS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "hardware", "logs");

/** Log messages worth showing on the console while the demo runs (the full logs go to files). */
const SHOWN =
  /started|order placed|^fill$|delivery confirmed|credit|loan|settle|fail|over to|refused|rejected|revoked/i;

function showLine(_name: string, line: string): string | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trim() === "" ? undefined : line;
  }
  const msg = String(o.msg ?? "");
  if (o.level !== "warn" && o.level !== "error" && !SHOWN.test(msg)) return undefined;
  const skip = new Set(["level", "ns", "msg", "time"]);
  const fields = Object.entries(o)
    .filter(([k, v]) => !skip.has(k) && (typeof v !== "object" || v === null))
    .slice(0, 6)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `${o.level === "info" ? "" : `${String(o.level).toUpperCase()} `}${msg}${fields ? `  ${fields}` : ""}`;
}

interface DemoArgs {
  dir: string;
  aggregators: number;
  agentsPer: number;
  duration: number;
  intervalMs: number;
  hoursPerInterval: number;
  allocationMc: number;
  kill: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child that did not report its start: it ended first (with the signal that ended it), or was silent. */
type DemoErrorCode = "CHILD_EXITED_EARLY" | "CHILD_SILENT";
const { Error: DemoError, is: isDemoError } = errorFamily<
  DemoErrorCode,
  { CHILD_EXITED_EARLY: { child: string; signal: NodeJS.Signals | null } }
>("DemoError");

async function waitForLine(child: Child, pattern: RegExp, timeoutMs: number, sup: Supervisor): Promise<void> {
  void sup;
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(
      () =>
        reject(new DemoError("CHILD_SILENT", `${child.name} did not report ${pattern} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      if (pattern.test(d.toString())) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    child.process.stdout?.on("data", onData);
    child.process.stderr?.on("data", onData);
    child.exited.then((code) => {
      clearTimeout(timer);
      const signal = child.process.signalCode;
      reject(
        new DemoError(
          "CHILD_EXITED_EARLY",
          `${child.name} ${signal === null ? `exited (${code})` : `was stopped by ${signal}`} before it started; see its log`,
          { child: child.name, signal },
        ),
      );
    }, reject);
  });
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: "demo",
  describe:
    "run a whole local consortium: CA, aggregators with embedded brokers, agents replaying meter logs",
  builder: (y) =>
    y
      .option("dir", {
        type: "string",
        default: "./gridlet-demo",
        describe: "working directory: new, empty, or made by an earlier demo (recreated)",
      })
      .option("aggregators", { type: "number", default: 4, describe: "aggregators in the consortium" })
      .option("agents-per", { type: "number", default: 2, describe: "agents per aggregator" })
      .option("duration", {
        type: "number",
        default: 120,
        describe: "seconds of trading before a clean stop; 0 runs until Ctrl-C (SIGINT or SIGTERM)",
      })
      .option("interval-ms", { type: "number", default: 8000, describe: "market interval (wall clock)" })
      .option("hours-per-interval", {
        type: "number",
        default: 3,
        describe: "hours of recorded meter log replayed per market interval",
      })
      .option("allocation-mc", {
        type: "number",
        default: 1200,
        describe: "initial coins per agent (milli-coins); small, so that households run short and borrow",
      })
      .option("kill", {
        type: "boolean",
        default: true,
        describe: "kill -9 one aggregator half-way and restart it, to show that trading goes on",
      })
      .check((a) => {
        if (!Number.isInteger(a.aggregators) || a.aggregators < 1 || a.aggregators > 16)
          throw new UsageError("USAGE", "--aggregators must be 1..16");
        if (!Number.isFinite(a.duration) || (a.duration !== 0 && a.duration < 10))
          throw new UsageError("USAGE", "--duration must be 0 (until Ctrl-C) or at least 10 s");
        if (Number(a.intervalMs) < 2000) throw new UsageError("USAGE", "--interval-ms must be at least 2000");
        return true;
      })
      .example("$0 demo", "4 aggregators, 8 agents, 2 minutes of trading")
      .example("$0 demo --duration 600 --no-kill", "ten quiet minutes")
      .example("$0 demo --duration 0", "until Ctrl-C: open the dashboards it prints") as never,
  handler: async (a) => {
    const dir = resolve(a.dir);
    prepareDemoDir(dir);
    mkdirSync(join(dir, "data"), { recursive: true });
    mkdirSync(join(dir, "logs"), { recursive: true });
    const layout = await writeDemoLayout({
      dir,
      logsDir: LOGS_DIR,
      aggregators: a.aggregators,
      agentsPer: a.agentsPer,
      intervalMs: a.intervalMs,
      hoursPerInterval: a.hoursPerInterval,
      initialAllocationMc: a.allocationMc,
    });
    console.log(`Gridlet demo in ${dir}`);
    console.log(
      `  CA, consortium and genesis: ${layout.caDir}, ${layout.consortiumFile}, ${layout.genesisFile}`,
    );
    console.log(
      `  MQTT over TLS between all processes, checked against ${join(layout.caDir, "tls", "ca.crt")}`,
    );
    console.log(
      `  ${layout.aggregators.length} aggregators (${layout.aggregators[0].id} runs the credit bank), ${layout.agents.length} agents replaying ${a.hoursPerInterval} h of meter log per ${a.intervalMs / 1000} s interval`,
    );
    console.log(`  full logs: ${join(dir, "logs")}\n`);

    const sup = new Supervisor(join(dir, "logs"), showLine);
    let stopping = false;
    let interrupted = false;
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      console.log("\nstopping...");
    };
    // kept until the stop is over: a second Ctrl-C while the children stop must not end the demo half-way
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const aggs = layout.aggregators.map((g) => sup.start(g.id, ["aggregator", "--config", g.config]));
      await Promise.all(aggs.map((c) => waitForLine(c, /ledger started/, 60_000, sup)));
      const agents = layout.agents.map((g) => sup.start(g.id, ["agent", "--config", g.config]));
      printUrls(layout, a.duration);
      // The duration is trading time: it runs from when every agent is up (a loaded machine takes a while
      // to start twelve processes).
      await Promise.all(agents.map((c) => waitForLine(c, /agent started/, 60_000, sup)));
      const start = Date.now();
      const endless = a.duration === 0;
      // Until Ctrl-C, the kill comes after a minute: long enough to have the dashboard open.
      const killAtMs = endless ? 60_000 : (a.duration * 1000) / 3;
      const downMs = endless ? 15_000 : Math.min(15_000, (a.duration * 1000) / 6);
      let killed = false;
      while (!stopping && (endless || Date.now() - start < a.duration * 1000)) {
        await sleep(1000);
        const elapsed = Math.round((Date.now() - start) / 1000);
        if (elapsed % 15 === 0) {
          const heights = layout.aggregators.map((g) => `${g.id}:${ledgerHeightOf(g.ledgerDb)}`).join(" ");
          console.log(`---- ${elapsed}s: ledger heights ${heights}`);
        }
        const victim = layout.aggregators[layout.aggregators.length - 1];
        if (a.kill && !killed && layout.aggregators.length >= 4 && Date.now() - start > killAtMs) {
          killed = true;
          const child = aggs[aggs.length - 1];
          console.log(
            `---- kill -9 ${victim.id}: the other ${layout.aggregators.length - 1} go on (f = 1); its agents fail over`,
          );
          await sup.kill(child);
          for (const until = Date.now() + downMs; !stopping && Date.now() < until; ) await sleep(250);
          if (!stopping) {
            console.log(`---- restarting ${victim.id}: it catches up from its peers`);
            aggs[aggs.length - 1] = sup.start(victim.id, ["aggregator", "--config", victim.config]);
          }
        }
      }
      console.log("\n---- stopping agents, then aggregators (SIGTERM)");
      await sup.stop(sup.running().filter((c) => c.name.startsWith("agent")));
      await sleep(2000);
      await sup.stop();
      const unclean = sup.unclean();
      if (unclean.length === 0) console.log(`  all ${sup.count} processes stopped with exit code 0`);
      else {
        console.log(`  NOT CLEAN: ${unclean.map((u) => `${u.name} ${u.how}`).join(", ")}`);
        process.exitCode = 1;
      }
    } catch (e) {
      // Ctrl-C in a terminal reaches the children too: one that was still starting exits, and its wait
      // fails, sometimes before the demo's own handler has run. That is the stop the user asked for, not
      // a failure of the demo.
      const signal = isDemoError(e, "CHILD_EXITED_EARLY") ? e.context.signal : null;
      const interruptedChild = signal === "SIGINT" || signal === "SIGTERM";
      if (!stopping && !interruptedChild) throw e;
      interrupted = true;
      console.log("stopped during start-up");
    } finally {
      await sup.close();
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    }
    if (!interrupted) report(layout);
  },
};

/** Where to look while the demo runs: every aggregator's dashboard and every agent's metrics. */
function printUrls(layout: DemoLayout, duration: number): void {
  console.log("\nDashboards (each also serves /metrics, /api/status, /healthz):");
  for (const g of layout.aggregators) console.log(`  ${g.id.padEnd(10)} ${g.dashboard}`);
  console.log("Agents (/metrics, /api/status, /healthz):");
  for (const g of layout.agents) console.log(`  ${g.id.padEnd(10)} ${g.http}/metrics`);
  console.log(duration === 0 ? "Ctrl-C stops the demo.\n" : `Stopping by itself after ${duration} s.\n`);
}

function report(layout: DemoLayout): void {
  const heights = layout.aggregators.map((g) => ledgerHeightOf(g.ledgerDb));
  const common = Math.min(...heights);
  console.log(`\nLedgers: heights ${heights.join(", ")}; re-executing each to block ${common}`);
  const summaries: LedgerSummary[] = layout.aggregators.map((g) =>
    summariseLedger(g.ledgerDb, layout, common),
  );
  const hashes = new Set(summaries.map((s) => s.stateHash));
  console.log(
    hashes.size === 1
      ? `  all ${summaries.length} aggregators agree: state hash ${[...hashes][0].slice(0, 16)}… at block ${common}`
      : `  DISAGREEMENT: ${summaries.map((s, i) => `${layout.aggregators[i].id} ${s.stateHash.slice(0, 16)}`).join(", ")}`,
  );
  const s = summariseLedger(layout.aggregators[0].ledgerDb, layout);
  console.log(`\nWhat the ledger of ${layout.aggregators[0].id} holds (${s.height} blocks):`);
  for (const [k, n] of Object.entries(s.applied).sort()) console.log(`  ${String(n).padStart(6)}  ${k}`);
  const rejected = Object.entries(s.rejected);
  if (rejected.length > 0) {
    console.log("  refused, by type and code:");
    for (const [k, n] of rejected.sort()) console.log(`  ${String(n).padStart(6)}  ${k}`);
  }
  console.log(`  loans: ${s.loans.total} granted, ${s.loans.repaid} repaid`);
  console.log(
    `  coins: supply ${s.supplyMc} mc, sum of all wallets ${s.walletTotalMc} mc${s.supplyMc === s.walletTotalMc ? " (conserved)" : " (MISMATCH)"}`,
  );
  console.log("\nAgents (balance, frozen, active reputation value):");
  for (const x of s.agents) {
    const hh = layout.agents.find((g) => g.id === x.id)?.household ?? "";
    console.log(
      `  ${x.id.padEnd(10)} ${String(x.balanceMc).padStart(7)} mc  ${String(x.frozenMc).padStart(6)} frozen  ${(x.reputation / 1e6).toFixed(2).padStart(7)}  ${hh}${x.blacklisted ? "  BLACKLISTED" : ""}`,
    );
  }
  console.log("\nWhere to look:");
  console.log(
    `  ${gridletCommand()} ledger verify --db ${layout.aggregators[0].ledgerDb} --ca ${join(layout.caDir, "ca.cert.json")}`,
  );
  console.log(
    `  ${gridletCommand()} ledger export --db ${layout.aggregators[0].ledgerDb} --out ledger.jsonl`,
  );
  console.log(`  python3 ${verifierPath()} --ca ${join(layout.caDir, "ca.cert.json")} ledger.jsonl`);
  console.log(`  ${gridletCommand()} agent status --config ${layout.agents[0].config}`);
  if (hashes.size !== 1 || s.supplyMc !== s.walletTotalMc) process.exitCode = 1;
}

/**
 * How the user runs gridlet: `npx gridlet` in a checkout (its bin is linked into node_modules/.bin), plain
 * `gridlet` from an installed release, where `npx gridlet` would look for a package of that name in the
 * registry instead.
 */
function gridletCommand(): string {
  return existsSync(join(process.cwd(), "node_modules", ".bin", "gridlet")) ? "npx gridlet" : "gridlet";
}

/** The independent Python verifier shipped in tools/: relative from the checkout's root, else absolute. */
function verifierPath(): string {
  const path = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tools", "verify_ledger.py");
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
