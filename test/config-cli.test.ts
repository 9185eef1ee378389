import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfigText } from "../config/load.js";
import { agentConfigSchema, aggregatorConfigSchema } from "../config/schema.js";
import { gridlet } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "gridlet-config-"));
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
});
