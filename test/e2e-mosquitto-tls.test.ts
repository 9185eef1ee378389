import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { startMosquitto } from "./helpers/mosquitto.js";
import { makeTlsPki } from "./helpers/tls.js";

/** Adds `mqtt.tls` / `broker.tls` to a written configuration and switches its URL to mqtts://. */
function withTls(path: string, section: "mqtt" | "broker", url: string, tls: object): void {
  const doc = parse(readFileSync(path, "utf8"));
  doc[section] = { ...doc[section], url, tls };
  writeFileSync(path, stringify(doc));
}

describe("Mosquitto as documented: TLS client certificates, identity as username, the shipped ACL", {
  timeout: 90_000,
}, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("readings arrive over mqtts with the agent's client certificate", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const tlsDir = join(tmp.dir, "tls");
    mkdirSync(tlsDir);
    const x509 = makeTlsPki(tlsDir, ["agent-1", "agg-1"]);
    // Mosquitto started as root drops to its own user, which must still reach the broker's files.
    for (const p of [tmp.dir, tlsDir]) chmodSync(p, 0o755);
    for (const p of [x509.ca, x509.server.cert, x509.server.key]) chmodSync(p, 0o644);
    const acl = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config", "mosquitto.acl.example");
    const port = await freePort();
    // startMosquitto writes a plain listener; a TLS one replaces it through a second listener line.
    const plainPort = await freePort();
    const broker = await startMosquitto(
      tmp.dir,
      plainPort,
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${x509.ca}`,
        `certfile ${x509.server.cert}`,
        `keyfile ${x509.server.key}`,
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        `acl_file ${acl}`,
        "",
      ].join("\n"),
    );
    const url = `mqtts://127.0.0.1:${port}`;
    const aggConfig = writeAggregatorConfig(tmp.dir, pki, { url });
    withTls(aggConfig, "broker", url, x509.clients["agg-1"]);
    const agentConfig = writeAgentConfig(tmp.dir, pki, 0, {
      url,
      intervalMs: 200,
      meters: [{ id: "main", driver: "synthetic", powerW: 3600, readings: 6 }],
    });
    withTls(agentConfig, "mqtt", url, x509.clients["agent-1"]);
    const agg = spawnGridlet(["aggregator", "--config", aggConfig]);
    const agent = spawnGridlet(["agent", "--config", agentConfig]);
    try {
      await agg.waitForOutput(/aggregator started/);
      const rows = await waitFor("6 readings over TLS", () => {
        const r = aggregatorReadings(join(tmp.dir, "agg-1.sqlite"));
        return r.length === 6 ? r : undefined;
      });
      assert.equal(reverifyAll(rows, pki), 6);
    } finally {
      await agent.stop();
      await agg.stop();
      await broker.stop();
    }
  });
});
