import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readStoreCounters } from "../agent/store/agent-store.js";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { agentReadings, aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { type Mosquitto, startMosquitto } from "./helpers/mosquitto.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The two cases are independent (own directories, ports and brokers) and mostly wait: side by side.
describe("store and forward", { timeout: 150_000, concurrency: 2 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("broker down, agent killed -9 meanwhile: after restart every reading arrives exactly once", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const port = await freePort();
    let broker: Mosquitto = await startMosquitto(tmp.dir, port);
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(tmp.dir, pki, { url: broker.url }),
    ]);
    const perRun = 30;
    const agentConfig = writeAgentConfig(tmp.dir, pki, 0, {
      url: broker.url,
      intervalMs: 100,
      meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: perRun }],
    });
    const agentDb = join(tmp.dir, "agent-1.sqlite");
    const aggDb = join(tmp.dir, "agg-1.sqlite");
    let agent = spawnGridlet(["agent", "--config", agentConfig]);
    try {
      await agg.waitForOutput(/aggregator started/);
      await waitFor("first readings at the aggregator", () => aggregatorReadings(aggDb).length >= 5, 30_000);

      await broker.stop();
      const atOutage = readStoreCounters(agentDb).readingsStored;
      await waitFor(
        "readings stored during the outage",
        () => readStoreCounters(agentDb).readingsStored >= atOutage + 5,
      );
      agent.child.kill("SIGKILL");
      assert.equal(await agent.exited, null, "killed by a signal");
      const buffered = readStoreCounters(agentDb).outboxDepth;
      assert.ok(buffered >= 5, `outbox holds the outage's readings (${buffered})`);

      agent = spawnGridlet(["agent", "--config", agentConfig]);
      await agent.waitForOutput(/agent started/);
      await sleep(700); // the restarted agent reads and buffers while the broker is still away
      broker = await startMosquitto(tmp.dir, port);

      await waitFor(
        "the second run to finish and the outbox to drain",
        () => {
          const c = readStoreCounters(agentDb);
          return (
            c.outboxDepth === 0 &&
            c.readingsStored >= perRun + atOutage - 5 &&
            agent.output().includes("exhausted")
          );
        },
        60_000,
      );
      await sleep(300);
      const mine = agentReadings(agentDb);
      const theirs = aggregatorReadings(aggDb);
      assert.equal(
        new Set(mine.map((r) => r.seq)).size,
        mine.length,
        "no sequence number reused after kill -9",
      );
      assert.equal(reverifyAll(theirs, pki), theirs.length);
      assert.deepEqual(
        theirs.map((r) => ({ seq: r.seq, meter: r.meter, ts: r.ts, importWh: r.importWh })),
        mine,
        "the aggregator holds exactly the agent's readings",
      );
    } finally {
      await agent.stop();
      await agg.stop();
      await broker.stop();
    }
  });

  it("the aggregator with its embedded broker killed -9 and restarted: every reading arrives exactly once", async () => {
    const dir = join(tmp.dir, "agg-kill");
    mkdirSync(dir);
    const pki = makePki(dir, "agg-1", ["agent-1"]);
    const port = await freePort();
    const aggConfig = writeAggregatorConfig(dir, pki, { embeddedPort: port });
    let agg = spawnGridlet(["aggregator", "--config", aggConfig]);
    await agg.waitForOutput(/aggregator started/);
    const agentDb = join(dir, "agent-1.sqlite");
    const aggDb = join(dir, "agg-1.sqlite");
    const agent = spawnGridlet([
      "agent",
      "--config",
      writeAgentConfig(dir, pki, 0, {
        url: `mqtt://127.0.0.1:${port}`,
        intervalMs: 100,
        meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 25 }],
      }),
    ]);
    try {
      await waitFor("first readings", () => aggregatorReadings(aggDb).length >= 5, 30_000);
      agg.child.kill("SIGKILL");
      await agg.exited;
      await sleep(800); // the agent keeps reading into its outbox
      agg = spawnGridlet(["aggregator", "--config", aggConfig]);
      await agg.waitForOutput(/aggregator started/);
      await waitFor(
        "all 25 readings receipted",
        () => {
          const c = readStoreCounters(agentDb);
          return c.readingsStored === 25 && c.outboxDepth === 0;
        },
        60_000,
      );
      const mine = agentReadings(agentDb);
      const theirs = aggregatorReadings(aggDb);
      assert.equal(reverifyAll(theirs, pki), 25);
      assert.deepEqual(
        theirs.map((r) => ({ seq: r.seq, meter: r.meter, ts: r.ts, importWh: r.importWh })),
        mine,
      );
    } finally {
      await agent.stop();
      await agg.stop();
    }
  });
});
