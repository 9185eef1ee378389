import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../bench/harness/tmp.js";
import { parseConfigText } from "../config/load.js";
import { agentConfigSchema, aggregatorConfigSchema } from "../config/schema.js";
import { gridlet } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("gridlet-config-");
after(cleanup);
const agentExample = readFileSync(join(process.cwd(), "config", "agent.example.yaml"), "utf8");
const aggregatorExample = readFileSync(join(process.cwd(), "config", "aggregator.example.yaml"), "utf8");

describe("configuration at start-up", () => {
  it("the commented examples in config/ are valid", () => {
    parseConfigText(agentConfigSchema, agentExample, "agent.example.yaml");
    parseConfigText(aggregatorConfigSchema, aggregatorExample, "aggregator.example.yaml");
  });

  it("a wrong field exits 2 and names the field, its value and what was expected", () => {
    const file = join(dir, "agent-bad.yaml");
    writeFileSync(file, agentExample.replace(/keepaliveSeconds: \d+/, "keepaliveSeconds: often"));
    const r = gridlet(["agent", "--config", file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /mqtt\.keepaliveSeconds: got "often", expected/);
  });

  it("an aggregator configuration with an unknown field exits 2 naming it", () => {
    const file = join(dir, "agg-bad.yaml");
    writeFileSync(file, `${aggregatorExample}\nfavouriteColour: blue\n`);
    const r = gridlet(["aggregator", "--config", file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /favouriteColour/);
  });

  it("a missing file and a missing version exit 2", () => {
    assert.equal(gridlet(["agent", "--config", join(dir, "nope.yaml")]).status, 2);
    const file = join(dir, "noversion.yaml");
    writeFileSync(file, agentExample.replace(/^version: 1$/m, ""));
    const r = gridlet(["agent", "--config", file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /version/);
  });

  it("an environment override is validated like the file", () => {
    const file = join(dir, "agent-env.yaml");
    writeFileSync(file, agentExample);
    const r = gridlet(["agent", "--config", file], { env: { GRIDLET_CFG__MQTT__URL: "ftp://nowhere" } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /mqtt\.url: got "ftp:\/\/nowhere"/);
  });

  it("an env override with a wrong name is named, with the field it tried to set", () => {
    const file = join(dir, "agent-env-name.yaml");
    writeFileSync(file, agentExample);
    const r = gridlet(["agent", "--config", file], { env: { GRIDLET_CFG__MQTT__KEEPALIVE_SECOND: "5" } });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /invalid configuration in .*agent-env-name\.yaml:\n {2}mqtt\.keepaliveSecond: got 5, expected no such field \(set by GRIDLET_CFG__MQTT__KEEPALIVE_SECOND\)/,
    );
  });

  it("an unknown meter profile exits 2 naming the field and the known profiles", () => {
    const file = join(dir, "agent-profile.yaml");
    writeFileSync(file, agentExample.replace("profile: sdm630", "profile: sdm999"));
    const r = gridlet(["agent", "--config", file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /meters\[0\]\.profile: got "sdm999", expected a meter profile .*sdm630/);
  });

  it("YAML aliases are limited: an alias bomb exits 2 at once", () => {
    const lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    lines.push("meters: *a9");
    const file = join(dir, "bomb.yaml");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const r = gridlet(["config", "check", file, "--as", "agent"], { timeoutMs: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /bomb\.yaml is not acceptable YAML: Excessive alias count/);
  });
});

describe("gridlet config check", () => {
  it("the shipped examples are valid; the kind of each is detected", () => {
    const r = gridlet(["config", "check", "config/agent.example.yaml", "config/aggregator.example.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /agent\.example\.yaml: valid agent configuration "agent-07"/);
    assert.match(r.stdout, /aggregator\.example\.yaml: valid aggregator configuration "agg-1"/);
  });

  it("a wrong file among good ones: every file is checked, the wrong one named, exit 2", () => {
    const bad = join(dir, "agg-check-bad.yaml");
    writeFileSync(bad, aggregatorExample.replace("port: 8883", "port: 70000"));
    const r = gridlet(["config", "check", bad, "config/agent.example.yaml"]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /invalid configuration in .*agg-check-bad\.yaml:\n {2}broker\.embedded\.port: got 70000/,
    );
    assert.match(r.stdout, /valid agent configuration/);
  });

  it("a file that is neither kind asks for --as; --as decides", () => {
    const file = join(dir, "bare.yaml");
    writeFileSync(file, "version: 1\nid: x\n");
    const r = gridlet(["config", "check", file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot tell an agent configuration .* say which with --as/);
    const as = gridlet(["config", "check", file, "--as", "aggregator"]);
    assert.equal(as.status, 2);
    assert.match(as.stderr, /identity: got nothing/);
  });

  it("applies this environment's overrides, lists included, and names the variable of a bad one", () => {
    const ok = gridlet(["config", "check", "config/agent.example.yaml"], {
      env: { GRIDLET_CFG__METERS__0__BAUD: "19200" },
    });
    assert.equal(ok.status, 0, ok.stderr);
    const bad = gridlet(["config", "check", "config/agent.example.yaml"], {
      env: { GRIDLET_CFG__METERS__0__UNIT_ID: "999" },
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /meters\[0\]\.unitId: got 999, .*\(set by GRIDLET_CFG__METERS__0__UNIT_ID\)/);
    const notIndex = gridlet(["config", "check", "config/agent.example.yaml"], {
      env: { GRIDLET_CFG__METERS__PATH: "/dev/x" },
    });
    assert.equal(notIndex.status, 2);
    assert.match(notIndex.stderr, /GRIDLET_CFG__METERS__PATH: meters is a list/);
  });

  it("a missing file exits 2 naming it", () => {
    const r = gridlet(["config", "check", join(dir, "absent.yaml")]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read configuration .*absent\.yaml/);
  });
});
