import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { writeAggregatorConfig } from "../../bench/harness/config.js";
import { freePort } from "../../bench/harness/net.js";
import type { TestPki } from "../../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../../bench/harness/procs.js";
import { startMosquitto } from "./mosquitto.js";

/**
 * Declares the same end-to-end test twice: once through the aggregator's embedded Aedes broker and once
 * through a real Mosquitto, the aggregator being a `gridlet aggregator` process either way. `run` gets a
 * fresh directory, the broker URL for the agent and the running aggregator.
 */
export function itThroughBothBrokers(
  baseDir: string,
  pki: () => TestPki,
  run: (dir: string, url: string, aggregator: Proc) => Promise<void>,
): void {
  it("through embedded Aedes", async () => {
    const dir = join(baseDir, "aedes");
    mkdirSync(dir);
    const port = await freePort();
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki(), { embeddedPort: port }),
    ]);
    try {
      await run(dir, `mqtt://127.0.0.1:${port}`, agg);
    } finally {
      await agg.stop();
    }
  });

  it("through Mosquitto", async () => {
    const dir = join(baseDir, "mosquitto");
    mkdirSync(dir);
    const broker = await startMosquitto(dir, await freePort());
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki(), { url: broker.url }),
    ]);
    try {
      await run(dir, broker.url, agg);
    } finally {
      await agg.stop();
      await broker.stop();
    }
  });
}
