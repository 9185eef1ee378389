/**
 * What an operator sees: `gridlet demo --duration 0` prints every aggregator's dashboard and every
 * agent's metrics URL; each answers valid Prometheus text (checked by a strict parser), a status JSON
 * and a health check; the dashboard, opened in a real headless Chromium, fills its market plot from the
 * running consortium over server-sent events and is saved as a screenshot (test-artifacts/); Ctrl-C
 * (SIGINT) stops the demo cleanly with exit code 0.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { parsePrometheusText, sampleValue } from "./helpers/prom-text.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-artifacts");

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

test("the demo's dashboards and metrics, live in Chromium, and Ctrl-C", { timeout: 300_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed (Debian package chromium)`);
  const tmp = tempDir("gridlet-dash-");
  after(() => tmp.cleanup());
  const demo = spawnGridlet([
    "demo",
    "--dir",
    join(tmp.dir, "demo"),
    "--duration",
    "0",
    "--interval-ms",
    "4000",
    "--agents-per",
    "1",
    "--no-kill",
  ]);
  try {
    await demo.waitForOutput(/Ctrl-C stops the demo\./, 120_000);
    const out = demo.output();
    const dashboards = [...out.matchAll(/^ {2}(agg-\d+) +(http:\/\/127\.0\.0\.1:\d+)\/$/gm)].map((m) => ({
      id: m[1],
      base: m[2],
    }));
    const agents = [...out.matchAll(/^ {2}(agent-[\d-]+) +(http:\/\/127\.0\.0\.1:\d+)\/metrics$/gm)].map(
      (m) => ({
        id: m[1],
        base: m[2],
      }),
    );
    assert.equal(dashboards.length, 4, out);
    assert.equal(agents.length, 4, out);

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
    for (const g of dashboards) {
      const m = await scrape(`${g.base}/metrics`);
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

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${dashboards[0].base}/`);
      await page.waitForSelector("#live.ok", { timeout: 30_000 });
      assert.equal(await page.textContent("#agg-id"), dashboards[0].id);
      // The plot must show trading: intervals with matched volume and a clearing price.
      // (The page's functions are given as source text: this file is compiled without the DOM types.)
      await page.waitForFunction(
        `[...document.querySelectorAll("#market-plot rect.volume-bar")].some((r) => Number(r.getAttribute("data-volume-wh")) > 0)
          && document.querySelectorAll("#market-plot circle.price-point").length > 0`,
        undefined,
        { timeout: 180_000, polling: 1000 },
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

    const code = await demo.stop("SIGINT", 120_000);
    assert.equal(code, 0, demo.output().slice(-3000));
    assert.match(demo.output(), /all 4 aggregators agree: state hash [0-9a-f]{16}/);
  } finally {
    // SIGINT, so that the demo stops its aggregators and agents too.
    await demo.stop("SIGINT", 120_000);
  }
});
