import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { writeAggregatorConfig } from "../../bench/harness/config.js";
import { freePort } from "../../bench/harness/net.js";
import type { TestPki } from "../../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../../bench/harness/procs.js";
import { TestTls } from "../../bench/harness/tls.js";
import { startMosquitto } from "./mosquitto.js";

/**
 * Declares the same end-to-end test twice: once through the aggregator's embedded Aedes broker and once
 * through a real Mosquitto, both serving MQTT over TLS with certificates from the PKI's TLS CA, the
 * aggregator being a `gridlet aggregator` process either way. `run` gets a fresh directory, the
 * mqtts:// URL for the agent (writeAgentConfig adds the CA) and the running aggregator.
 */
export function itThroughBothBrokers(
  baseDir: string,
  pki: () => TestPki,
  run: (dir: string, url: string, aggregator: Proc) => Promise<void>,
): void {
  it("through embedded Aedes (TLS)", async () => {
    const dir = join(baseDir, "aedes");
    mkdirSync(dir);
    const port = await freePort();
    const server = await (await new TestTls(pki().ca.dir).init()).server(pki().aggregator.id);
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki(), { embeddedPort: port, tls: { cert: server.cert, key: server.key } }),
    ]);
    try {
      await run(dir, `mqtts://127.0.0.1:${port}`, agg);
    } finally {
      await agg.stop();
    }
  });

  it("through Mosquitto (TLS)", async () => {
    const dir = join(baseDir, "mosquitto");
    mkdirSync(dir);
    const broker = await startMosquitto(
      dir,
      await freePort(),
      "",
      await (await new TestTls(pki().ca.dir).init()).server("mosquitto"),
    );
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
