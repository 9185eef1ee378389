import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { type Proc, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import {
  agentOutboxDepth,
  agentReadings,
  aggregatorReadings,
  reverifyAll,
} from "../bench/harness/verify-db.js";
import { type Mosquitto, startMosquitto } from "./helpers/mosquitto.js";

/**
 * Readings travel from an agent process through a real broker into the aggregator's SQLite file, where
 * every one re-verifies against the CA, and the two databases agree row for row.
 */
async function roundTrip(
  dir: string,
  pki: TestPki,
  agentUrl: string,
  aggConfig: string,
  agg: Proc,
): Promise<void> {
  await agg.waitForOutput(/aggregator started/);
  const agentConfig = writeAgentConfig(dir, pki, 0, {
    url: agentUrl,
    intervalMs: 100,
    meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 12 }],
  });
  const agent = spawnGridlet(["agent", "--config", agentConfig]);
  try {
    const aggDb = join(dir, `${pki.aggregator.id}.sqlite`);
    const agentDb = join(dir, `${pki.agents[0].id}.sqlite`);
    await waitFor("12 readings at the aggregator", () => aggregatorReadings(aggDb).length >= 12, 30_000);
    await waitFor("the outbox to be empty", () => agentOutboxDepth(agentDb) === 0);
    const status = await runGridlet(["agent", "status", "--config", agentConfig]);
    assert.equal(status.code, 0, status.stderr);
    const counters = JSON.parse(status.stdout) as { readingsStored: number; lastReceiptAt: number | null };
    assert.equal(counters.readingsStored, 12);
    assert.notEqual(counters.lastReceiptAt, null, "the agent saw a signed receipt");
    assert.equal(await agent.stop(), 0, agent.output());
    const mine = agentReadings(agentDb);
    const theirs = aggregatorReadings(aggDb);
    assert.equal(reverifyAll(theirs, pki), theirs.length);
    assert.deepEqual(
      theirs.map((r) => ({ seq: r.seq, meter: r.meter, ts: r.ts, importWh: r.importWh })),
      mine,
      "every reading arrived exactly once",
    );
    const aggStatus = await runGridlet(["aggregator", "status", "--config", aggConfig]);
    assert.equal(JSON.parse(aggStatus.stdout).readings, mine.length);
  } finally {
    await agent.stop();
  }
}

// The two brokers are independent (own directories and ports): side by side.
describe("agent → broker → aggregator", { timeout: 120_000, concurrency: 2 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  it("through the embedded Aedes broker, with login tokens", async () => {
    const dir = join(tmp.dir, "aedes");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    const port = await freePort();
    const aggConfig = writeAggregatorConfig(dir, pki, { embeddedPort: port });
    const agg = spawnGridlet(["aggregator", "--config", aggConfig]);
    try {
      await roundTrip(dir, pki, `mqtt://127.0.0.1:${port}`, aggConfig, agg);
    } finally {
      assert.equal(await agg.stop(), 0, agg.output());
    }
  });

  it("through Mosquitto", async () => {
    const dir = join(tmp.dir, "mosquitto");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    const broker: Mosquitto = await startMosquitto(dir, await freePort());
    const aggConfig = writeAggregatorConfig(dir, pki, { url: broker.url });
    const agg = spawnGridlet(["aggregator", "--config", aggConfig]);
    try {
      await roundTrip(dir, pki, broker.url, aggConfig, agg);
    } finally {
      assert.equal(await agg.stop(), 0, agg.output());
      await broker.stop();
    }
  });
});
