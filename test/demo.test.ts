/**
 * The README's main command, as a user runs it: `gridlet demo` starts a CA, four aggregator processes
 * with embedded brokers and agents replaying recorded meter logs; they trade, one aggregator is killed
 * -9 and restarted, Ctrl-C stops everything cleanly, and every ledger re-executes to one state hash.
 *
 * What an operator sees meanwhile, in the same run: the demo prints every aggregator's dashboard and
 * every agent's metrics URL; each answers valid Prometheus text (checked by a strict parser), a status
 * JSON and a health check; the dashboard, opened in a real headless Chromium, fills its market plot from
 * the running consortium over server-sent events and is saved as a screenshot (test-artifacts/).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { GRIDLET_MAIN, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { parsePrometheusText, sampleValue } from "./helpers/prom-text.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-artifacts");
const tmp = tempDir("gridlet-demo-");
after(() => tmp.cleanup());

async function scrape(url: string) {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

async function statusOf(base: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/api/status`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

/** The endpoints the demo printed: each aggregator's and each agent's metrics, status and health. */
async function checkEndpoints(
  dashboards: { id: string; base: string }[],
  agents: { id: string; base: string }[],
): Promise<void> {
  for (const g of dashboards) {
    const m = await waitFor(`${g.id} /metrics`, () => scrape(`${g.base}/metrics`), 30_000);
    for (const name of [
      "gridlet_ledger_height",
      "gridlet_consensus_view_changes_total",
      "gridlet_commit_latency_seconds",
      "gridlet_ingest_refused_total",
      "gridlet_agents_online",
      "gridlet_market_trades_total",
      "gridlet_broker_connections",
    ])
      assert.ok(m.has(name), `${g.id} /metrics has ${name}`);
    const s = await statusOf(g.base);
    assert.equal(s.id, g.id);
    assert.equal((s.ledger as { members: unknown[] }).members.length, 4);
    await waitFor(`${g.id} healthy`, async () => (await fetch(`${g.base}/healthz`)).status === 200, 60_000);
  }
  for (const a of agents) {
    const m = await waitFor(`${a.id} storing readings`, async () => {
      const f = await scrape(`${a.base}/metrics`);
      return (sampleValue(f, "gridlet_agent_readings_total", { meter: "main" }) ?? 0) > 0 ? f : undefined;
    });
    for (const name of [
      "gridlet_meter_crc_errors_total",
      "gridlet_agent_outbox_depth",
      "gridlet_agent_mqtt_connected",
    ])
      assert.ok(m.has(name), `${a.id} /metrics has ${name}`);
    assert.equal((await statusOf(a.base)).id, a.id);
    await waitFor(`${a.id} healthy`, async () => (await fetch(`${a.base}/healthz`)).status === 200);
  }
}

/** The dashboard in Chromium: live, trading in the market plot, members, agents and trades listed. */
async function checkDashboard(dashboard: { id: string; base: string }): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${dashboard.base}/`);
    await page.waitForSelector("#live.ok", { timeout: 30_000 });
    assert.equal(await page.textContent("#agg-id"), dashboard.id);
    // The plot must show trading: intervals with matched volume and a clearing price.
    // (The page's functions are given as source text: this file is compiled without the DOM types.)
    await page.waitForFunction(
      `[...document.querySelectorAll("#market-plot rect.volume-bar")].some((r) => Number(r.getAttribute("data-volume-wh")) > 0)
        && document.querySelectorAll("#market-plot circle.price-point").length > 0`,
      undefined,
      { timeout: 60_000, polling: 500 },
    );
    const memberStates = await page.$$eval("#members tbody [data-state]", (xs) =>
      xs.map((x) => x.getAttribute("data-state")),
    );
    assert.deepEqual(memberStates.length, 4);
    assert.equal(memberStates[0], "self");
    assert.ok(Number(await page.textContent("#agents-count")) >= 1, "agents online shown");
    assert.ok((await page.$$("#trades tbody tr")).length > 0, "trades listed");
    // Live: the page is redrawn from the event stream without a reload.
    const before = await page.getAttribute("body", "data-updated");
    await page.waitForFunction(
      `document.body.getAttribute("data-updated") !== ${JSON.stringify(before)}`,
      undefined,
      {
        timeout: 10_000,
      },
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, "a screenshot was written");
    assert.deepEqual(errors, [], "no script errors on the page");
  } finally {
    await browser.close();
  }
}

test("gridlet demo: a local consortium trades, shows its dashboards, survives a kill -9, stops on Ctrl-C with agreeing ledgers", {
  timeout: 180_000,
}, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed (Debian package chromium)`);
  const dir = join(tmp.dir, "demo");
  // 2 s intervals (the smallest the demo accepts) give allocations, orders and clearings within seconds.
  // The duration counts from when every agent is up; the kill -9 comes at a third of it (20 s), the
  // restart a sixth later (30 s); Ctrl-C comes once the restarted aggregator is up and the dashboard was
  // checked, so the 60 s are only a bound, with room for a machine loaded by other tests. One agent per
  // aggregator (the default is two): the same steps, with four agent processes fewer to start.
  const demo = spawnGridlet([
    "demo",
    "--dir",
    dir,
    "--duration",
    "60",
    "--interval-ms",
    "2000",
    "--agents-per",
    "1",
  ]);
  try {
    await demo.waitForOutput(/Stopping by itself after 60 s\./, 120_000);
    const printed = demo.output();
    const dashboards = [...printed.matchAll(/^ {2}(agg-\d+) +(http:\/\/127\.0\.0\.1:\d+)\/$/gm)].map((m) => ({
      id: m[1],
      base: m[2],
    }));
    const agents = [...printed.matchAll(/^ {2}(agent-[\d-]+) +(http:\/\/127\.0\.0\.1:\d+)\/metrics$/gm)].map(
      (m) => ({ id: m[1], base: m[2] }),
    );
    assert.equal(dashboards.length, 4, printed);
    assert.equal(agents.length, 4, printed);
    // agg-4, the one the demo kills, first: it is up (the URLs are printed once every ledger started)
    // and the kill comes 20 s after the agents are
    await checkEndpoints(dashboards.slice().reverse(), agents);
    await checkDashboard(dashboards[0]);
    await demo.waitForOutput(/restarting agg-4/, 60_000);
    await waitFor(
      "the restarted agg-4 healthy",
      async () => (await fetch(`${dashboards[3].base}/healthz`)).status === 200,
      60_000,
    );
    // Ctrl-C (SIGINT to the demo alone: the supervisor stops its children)
    const code = await demo.stop("SIGINT", 120_000);
    const out = demo.output();
    assert.equal(code, 0, out.slice(-4000));
    assert.match(out, /stopping\.\.\./);
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
  } finally {
    await demo.stop("SIGINT", 120_000);
  }
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
