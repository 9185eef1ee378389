/**
 * The README's main command, as a user runs it: `gridlet demo` starts a CA, four aggregator processes
 * with embedded brokers and eight agents replaying recorded meter logs; they trade, one aggregator is
 * killed -9 and restarted, everything stops cleanly, and every ledger re-executes to one state hash.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { GRIDLET_MAIN, runGridlet } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";

const tmp = tempDir("gridlet-demo-");
after(() => tmp.cleanup());

test("gridlet demo: a local consortium trades, survives a kill -9 and ends with agreeing ledgers", {
  timeout: 120_000,
}, async () => {
  const dir = join(tmp.dir, "demo");
  // A short run that still shows every step: 2 s intervals (the smallest the demo accepts) give
  // allocations, orders and clearings within seconds; the kill -9 comes at a third of the duration,
  // which counts from when every agent is up. One agent per aggregator (the default is two): the same
  // steps, with four agent processes fewer to start on a 2-core machine.
  const r = await runGridlet([
    "demo",
    "--dir",
    dir,
    "--duration",
    "15",
    "--interval-ms",
    "2000",
    "--agents-per",
    "1",
  ]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, out.slice(-4000));
  assert.match(out, /all 4 aggregators agree: state hash [0-9a-f]{16}/, out.slice(-3000));
  assert.match(out, /kill -9 agg-4/);
  // every process the demo stopped with SIGTERM (the restarted agg-4 too) exited 0; the one it killed is left out
  assert.match(out, /all \d+ processes stopped with exit code 0/, out.slice(-3000));
  // every broker the agents and peers reach serves TLS, checked against the demo CA's TLS certificate
  assert.match(out, /MQTT over TLS between all processes/);
  const members = JSON.parse(readFileSync(join(dir, "consortium.json"), "utf8")).consortium.members;
  assert.ok(members.every((m: { broker: string }) => m.broker.startsWith("mqtts://127.0.0.1:")));
  assert.match(readFileSync(join(dir, "logs", "agg-1.log"), "utf8"), /connected to peer broker.*mqtts:/);
  assert.match(readFileSync(join(dir, "logs", "agent-1-1.log"), "utf8"), /mqtt connected.*mqtts:/);
  assert.match(out, /coins: supply \d+ mc, sum of all wallets \d+ mc \(conserved\)/);
  const orders = Number(/(\d+) {2}order\n/.exec(out)?.[1] ?? 0);
  assert.ok(orders > 0, "agents placed orders that entered the ledger");
  assert.match(out, /\d+ {2}sys:clear-interval/, "intervals were cleared");
});

test("Ctrl-C in a terminal while the demo starts (SIGINT to its whole process group): a quiet stop, exit 0", {
  timeout: 90_000,
}, async () => {
  const dir = join(tmp.dir, "interrupted");
  // its own process group, as a shell gives a foreground job: the signal reaches the demo and every child
  const demo = spawn(process.execPath, [GRIDLET_MAIN, "demo", "--dir", dir, "--duration", "30"], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  demo.stdout.on("data", (d) => (out += d));
  demo.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => demo.once("exit", (code) => r(code)));
  // right after the agents were spawned, while they load; the demo's defaults (two agents per
  // aggregator, eight in all), as the README runs it: the run above takes one agent per aggregator
  const deadline = Date.now() + 60_000;
  while (!/Dashboards/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.match(out, /Dashboards/, out.slice(-2000));
  process.kill(-demo.pid!, "SIGINT");
  const code = await exited;
  assert.equal(code, 0, out.slice(-2000));
  assert.match(out, /stopped during start-up|all \d+ processes stopped with exit code 0/, out.slice(-2000));
  assert.doesNotMatch(out, /exited \(.*\) before it started/, "the stop was reported as a failure");
  assert.ok(existsSync(join(dir, "logs", "agg-1.log")));
});
