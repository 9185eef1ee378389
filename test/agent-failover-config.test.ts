import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfigText } from "../config/load.js";
import { agentConfigSchema } from "../config/schema.js";

const base = (extra: string) => `version: 1
id: a
identity: { key: k, cert: c, ca: ca }
aggregator: { id: eag0, cert: c0 }
mqtt: { url: "mqtt://127.0.0.1:1883" }
store: { path: s }
meters: [{ id: m, driver: synthetic }]
${extra}`;

const problems = (text: string): string[] => {
  try {
    parseConfigText(agentConfigSchema, text, "a.yaml");
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
};

test("an agent configuration without a fail-over list stays valid and has default timings", () => {
  const c = parseConfigText(agentConfigSchema, base(""), "a.yaml");
  assert.equal(c.aggregators, undefined);
  assert.equal(c.mqtt.failoverAfterMs, 5000);
  assert.equal(c.mqtt.homeRetryMs, 30_000);
});

test("the fail-over list is read in order, and its ids and home are checked", () => {
  const list = (entries: string) => base(`aggregators:\n${entries}`);
  const e = (id: string, port: number) =>
    `  - { id: ${id}, url: "mqtt://127.0.0.1:${port}", cert: ${id}.cert.json }\n`;
  const c = parseConfigText(agentConfigSchema, list(e("eag0", 1) + e("eag1", 2)), "a.yaml");
  assert.deepEqual(
    c.aggregators?.map((a) => a.id),
    ["eag0", "eag1"],
  );
  assert.ok(
    problems(list(e("eag0", 1) + e("eag0", 2))).some(
      (p) => p.startsWith("aggregators[1].id") && p.includes("twice"),
    ),
  );
  assert.ok(problems(list(e("eag1", 2) + e("eag2", 3))).some((p) => p.includes('home aggregator "eag0"')));
  assert.ok(
    problems(list(`  - { id: eag0, url: "http://x", cert: c }\n`)).some((p) =>
      p.startsWith("aggregators[0].url"),
    ),
  );
  assert.ok(problems(base("aggregators: []")).some((p) => p.startsWith("aggregators")));
});
