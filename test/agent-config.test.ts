import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfigFile, parseConfigText } from "../config/load.js";
import { agentConfigSchema, aggregatorConfigSchema } from "../config/schema.js";

// dist/test/ → the repository's config/ (examples are not compiled).
const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config");

describe("agent and aggregator configuration", () => {
  it("the commented examples are valid", () => {
    const agent = loadConfigFile(agentConfigSchema, join(CONFIG_DIR, "agent.example.yaml"), {});
    assert.equal(agent.meters[0].driver, "modbus-rtu");
    assert.equal(agent.mqtt.inflight, 1000);
    const agg = loadConfigFile(aggregatorConfigSchema, join(CONFIG_DIR, "aggregator.example.yaml"), {});
    assert.equal(agg.broker.embedded?.port, 8883);
    assert.ok(agg.broker.embedded?.tls !== undefined, "the example serves MQTT over TLS");
    assert.equal(agg.ingest.readingMaxAgeMs, 30 * 86_400_000);
  });

  it("names the field of a bad meter entry and of a broker given twice", () => {
    const base = (meters: string) => `version: 1
id: a
identity: { key: k, cert: c, ca: ca }
aggregator: { id: g, cert: gc }
mqtt: { url: "mqtt://127.0.0.1:1883" }
store: { path: s }
meters: ${meters}`;
    assert.throws(
      () =>
        parseConfigText(
          agentConfigSchema,
          base(`[{ id: m, driver: modbus-rtu, path: /dev/x, unitId: 999, profile: sdm630 }]`),
          "a.yaml",
        ),
      (e) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("meters[0].unitId")),
    );
    assert.throws(
      () => parseConfigText(agentConfigSchema, base(`[{ id: m, driver: telepathy }]`), "a.yaml"),
      (e) => e instanceof ConfigError && e.problems.some((p) => p.startsWith("meters[0].driver")),
    );
    assert.throws(
      () =>
        parseConfigText(
          aggregatorConfigSchema,
          `version: 1
id: g
identity: { key: k, cert: c, ca: ca }
broker: { embedded: { port: 1883 }, url: "mqtt://x:1" }
store: { path: s }`,
          "g.yaml",
        ),
      (e) => e instanceof ConfigError && e.problems.some((p) => p.includes("exactly one of embedded or url")),
    );
  });

  it("takes environment overrides", () => {
    const agent = loadConfigFile(agentConfigSchema, join(CONFIG_DIR, "agent.example.yaml"), {
      GRIDLET_CFG__MQTT__URL: "mqtt://127.0.0.1:1999",
      GRIDLET_CFG__INTERVAL_MS: "250",
    });
    assert.equal(agent.mqtt.url, "mqtt://127.0.0.1:1999");
    assert.equal(agent.intervalMs, 250);
  });
});
