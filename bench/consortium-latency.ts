import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeProcessConsortium, RawAgent } from "./harness/process-consortium.js";

/**
 * Commit latency across real processes: four `gridlet aggregator` processes on loopback, each with its
 * embedded broker and SQLite files; one agent per aggregator sends envelopes one at a time and times
 * the signed receipt (ingest alone: the limit measured in the same run) and the `tx.result` that
 * follows the block's commit on its home aggregator. The probe is an `order.cancel` of an unknown
 * order: a committed refusal, so the state does not grow between samples.
 */
const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "cli", "main.js");
const SAMPLES_PER_AGENT = Number(process.env.GRIDLET_BENCH_SAMPLES ?? 25);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("bench timed out");
    await new Promise((r) => setTimeout(r, 1));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-bench-consortium-"));
  const procs: ChildProcess[] = [];
  const agents: RawAgent[] = [];
  try {
    const k = await makeProcessConsortium(dir, { n: 4, trading: { intervalMs: 60_000 } });
    for (const c of k.configs) {
      procs.push(
        spawn(process.execPath, [MAIN, "aggregator", "--config", c], {
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, GRIDLET_LOG_LEVEL: "info" },
        }),
      );
    }
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            let out = "";
            const on = (d: Buffer) => {
              out += d.toString();
              if (out.includes("ledger started")) resolve();
            };
            p.stdout!.on("data", on);
            p.stderr!.on("data", on);
            p.once("exit", (code) => reject(new Error(`aggregator exited ${code}: ${out}`)));
          }),
      ),
    );
    for (const [i, id] of k.ids.entries()) {
      const a = new RawAgent(k.ca, `agent${i}`, id, dir);
      await a.connect(k.urls[i], id);
      agents.push(a);
    }
    const regs = agents.map((a) => a.send("wallet.register", { wallet: a.wallet }));
    await until(() => agents.every((a, i) => a.results.has(regs[i])));
    const receipt: number[] = [];
    const commit: number[] = [];
    // the four agents probe at the same time, each one envelope after another
    await Promise.all(
      agents.map(async (a) => {
        for (let n = 0; n < SAMPLES_PER_AGENT; n++) {
          const t0 = Date.now();
          const txId = a.send("order.cancel", { orderId: `probe-${n}` });
          const seq = Number(txId.slice(txId.lastIndexOf(":") + 1));
          await until(() => a.resultAt.has(txId));
          receipt.push((a.receiptedAt.get(seq) ?? a.resultAt.get(txId)!) - t0);
          commit.push(a.resultAt.get(txId)! - t0);
        }
      }),
    );
    const commitMedian = pct(commit, 50);
    const receiptMedian = pct(receipt, 50);
    return {
      bench: "consortium-latency",
      aggregators: 4,
      samples: commit.length,
      commitLatencyMs: { p50: commitMedian, p90: pct(commit, 90), max: Math.max(...commit) },
      receiptLatencyMs: { p50: receiptMedian, p90: pct(receipt, 90) },
      // consensus on top of ingest: how many receipt round trips one commit costs
      commitRatioToReceipt: Number((commitMedian / Math.max(1, receiptMedian)).toFixed(2)),
      loadAverage1m: Number(loadavg()[0].toFixed(2)),
    };
  } finally {
    for (const a of agents) await a.close();
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve();
            p.once("exit", () => resolve());
            p.kill("SIGTERM");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
}
