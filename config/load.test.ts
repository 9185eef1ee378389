import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "#zod";
import { applyEnvOverrides, ConfigError, parseConfigText } from "./load.js";

const schema = z
  .object({
    version: z.literal(1),
    id: z.string(),
    mqtt: z
      .object({ url: z.string().startsWith("mqtt://"), keepaliveSeconds: z.number().int().default(30) })
      .strict(),
    meters: z.array(z.object({ id: z.string(), baud: z.number().int() }).strict()),
  })
  .strict();

const good = `version: 1
id: agent-1
mqtt:
  url: mqtt://127.0.0.1:1883
meters:
  - id: m1
    baud: 9600
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(schema, text, "test.yaml", env);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.length > 0 ? [...e.problems, e.message] : [e.message];
  }
  assert.fail("expected a ConfigError");
}

describe("configuration", () => {
  it("parses a valid file with defaults", () => {
    const c = parseConfigText(schema, good, "t");
    assert.equal(c.mqtt.keepaliveSeconds, 30);
    assert.equal(c.meters[0].baud, 9600);
  });

  it("names the field path, the value and what was expected", () => {
    const p = problems(good.replace("baud: 9600", 'baud: "fast"'));
    assert.equal(p.length, 2, "one problem and the summary");
    assert.match(p[0], /^meters\[0\]\.baud: got "fast", expected .*number/);
    const q = problems(good.replace("mqtt://127", "http://127"));
    assert.match(q[0], /^mqtt\.url: got "http:\/\/127\.0\.0\.1:1883"/);
  });

  it("reports unknown fields and missing or unsupported versions", () => {
    assert.match(problems(`${good}colour: blue\n`).join(), /colour/);
    assert.match(problems(good.replace("version: 1\n", "")).join(), /missing "version"/);
    assert.match(problems(good.replace("version: 1", "version: 7")).join(), /version: got 7/);
  });

  it("reports YAML syntax errors", () => {
    assert.match(problems("version: 1\nid: [unclosed\n").join(), /not valid YAML/);
  });

  it("applies environment overrides by path, read as YAML scalars", () => {
    const c = parseConfigText(schema, good, "t", {
      GRIDLET_CFG__MQTT__URL: "mqtt://10.0.0.5:1883",
      GRIDLET_CFG__MQTT__KEEPALIVE_SECONDS: "60",
      OTHER: "ignored",
    });
    assert.equal(c.mqtt.url, "mqtt://10.0.0.5:1883");
    assert.equal(c.mqtt.keepaliveSeconds, 60);
    assert.deepEqual(applyEnvOverrides({}, { GRIDLET_CFG__A__B_C: "true" }), { a: { bC: true } });
  });
});
