import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { discoveryMessages, HaPublisher, haNodeId, haTopics } from "../agent/link/home-assistant.js";
import { mayPublish, maySubscribe } from "../aggregator/broker/acl.js";
import { LoginVerifier } from "../aggregator/broker/login.js";
import { makePki, type TestIdentity, type TestPki } from "../bench/harness/pki.js";
import { tempDir } from "../bench/harness/tmp.js";
import { isGridletError, isProtocolError } from "../protocol/errors.js";
import { TrustStore } from "../protocol/identity.js";
import { type LoginTokenFor, loginToken } from "../protocol/login.js";

describe("broker authorisation", () => {
  const agent = { id: "agent-1", role: "agent" as const };
  const agg = { id: "agg-1", role: "aggregator" as const };

  it("keeps an agent to its own topics", () => {
    for (const t of [
      "gridlet/v1/agent/agent-1/up",
      "gridlet/v1/agent/agent-1/status",
      haTopics.state("agent-1", "main"),
      haTopics.availability("agent-1", "main"),
    ]) {
      assert.ok(mayPublish(agent, t), t);
    }
    assert.ok(mayPublish(agent, `homeassistant/sensor/${haNodeId("agent-1")}/main_import/config`));
    for (const t of [
      "gridlet/v1/agent/agent-1/down",
      "gridlet/v1/agent/agent-2/up",
      "gridlet/v1/agent/agent-1/up/extra",
      "gridlet/v1/agent/agent-1/meter/main/up",
      "gridlet/v1/agent/agent-1/meter/+/state",
      haTopics.state("agent-2", "main"),
      "gridlet/v1/agent/+/up",
      "gridlet/v1/aggregator/agg-1/announce",
      "homeassistant/sensor/gridlet_agent-2/x/config",
      "gridlet/v1/ca/revocations",
    ]) {
      assert.ok(!mayPublish(agent, t), t);
    }
  });

  it("lets an agent subscribe to its down topic and public topics only", () => {
    for (const t of [
      "gridlet/v1/agent/agent-1/down",
      "gridlet/v1/aggregator/+/announce",
      "gridlet/v1/aggregator/agg-1/status",
      "gridlet/v1/ca/revocations",
    ]) {
      assert.ok(maySubscribe(agent, t), t);
    }
    for (const t of [
      "gridlet/v1/agent/agent-2/down",
      "gridlet/v1/agent/+/down",
      "gridlet/v1/agent/agent-1/+",
      "#",
      "gridlet/v1/#",
      "gridlet/v1/agent/agent-1/up",
    ]) {
      assert.ok(!maySubscribe(agent, t), t);
    }
  });

  it("lets the aggregator receipt any agent but speak only as itself", () => {
    assert.ok(mayPublish(agg, "gridlet/v1/agent/agent-7/down"));
    assert.ok(mayPublish(agg, "gridlet/v1/aggregator/agg-1/status"));
    assert.ok(!mayPublish(agg, "gridlet/v1/aggregator/agg-2/status"));
    assert.ok(!mayPublish(agg, "gridlet/v1/agent/agent-7/up"));
    assert.ok(!maySubscribe(agg, "homeassistant/#"));
  });

  it("lets the CA hand over its revocation list and nothing else", () => {
    const ca = { id: "test-ca", role: "ca" as const };
    assert.equal(mayPublish(ca, "gridlet/v1/ca/revocations"), true);
    for (const t of [
      "gridlet/v1/agent/agent-1/up",
      "gridlet/v1/agent/agent-1/down",
      "gridlet/v1/consensus/x",
    ])
      assert.equal(mayPublish(ca, t), false, t);
    assert.equal(maySubscribe(ca, "gridlet/v1/agent/agent-1/down"), false);
  });

  it("lets a peer aggregator read consensus traffic and its own bank's bills, not the agents'", () => {
    assert.ok(maySubscribe(agg, "gridlet/v1/consensus/+/all"));
    assert.ok(maySubscribe(agg, "gridlet/v1/consensus/agg-2/to/agg-1"));
    assert.ok(maySubscribe(agg, "gridlet/v1/bank/agg-1/bills"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/consensus/agg-2/to/agg-3"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/consensus/+/to/+"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/bank/agg-2/bills"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/agent/+/up"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/agent/agent-7/down"));
    assert.ok(!maySubscribe(agg, "gridlet/v1/#"));
  });
});

describe("login tokens", () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
  });
  after(() => tmp.cleanup());

  const verifier = (now: number, audience = "agg-1") =>
    new LoginVerifier(new TrustStore(pki.ca.caCertificate(), { now: () => now }), {
      audience,
      now: () => now,
    });
  const token = (
    who: TestIdentity,
    t: Partial<LoginTokenFor> & { seq: number; now: number },
    cert = who.cert,
  ) => Buffer.from(loginToken(who.key, cert, { clientId: who.id, audience: "agg-1", ...t }));

  it("accepts a fresh token and learns the certificate", () => {
    const now = Date.now();
    const a = pki.agents[0];
    const v = verifier(now);
    assert.deepEqual(v.verify(a.id, token(a, { seq: 10, now }), a.id), {
      id: "agent-1",
      role: "agent",
    });
    assert.deepEqual(
      v.verify(a.id, token(a, { clientId: "agent-1/announce", seq: 11, now }), "agent-1/announce"),
      {
        id: "agent-1",
        role: "agent",
      },
    );
  });

  it("refuses old, replayed, misdirected and borrowed tokens, each with its reason", () => {
    const now = Date.now();
    const [a, b] = pki.agents;
    const v = verifier(now);
    const code = (f: () => unknown, c: string) => assert.throws(f, (e) => isGridletError(e) && e.code === c);
    code(() => v.verify(a.id, token(a, { seq: 1, now: now - 31_000 }), a.id), "STALE");
    code(() => v.verify(a.id, token(a, { seq: 2, now: now + 31_000 }), a.id), "FUTURE");
    const t = token(a, { seq: 5, now });
    v.verify(a.id, t, a.id);
    code(() => v.verify(a.id, t, a.id), "REPLAY");
    code(() => v.verify(a.id, token(a, { seq: 6, now, audience: "agg-2" }), a.id), "WRONG_AUDIENCE");
    code(() => v.verify(a.id, token(a, { seq: 7, now }), "agent-1/x"), "MALFORMED");
    code(() => v.verify(b.id, token(a, { seq: 8, now }), a.id), "MALFORMED");
    // agent-2 with its own token but agent-1's client id (taking over agent-1's session)
    code(() => v.verify(b.id, token(b, { seq: 9, now, clientId: a.id }), a.id), "CLIENT_ID_NOT_OWNED");
    code(
      () => v.verify(b.id, token(b, { seq: 10, now, clientId: "agent-2x" }), "agent-2x"),
      "CLIENT_ID_NOT_OWNED",
    );
    // agent-2's certificate with agent-1's key: the signature does not match the certificate.
    code(() => v.verify(b.id, token(a, { seq: 11, now, clientId: b.id }, b.cert), b.id), "BAD_SIGNATURE");
  });

  it("a high sequence at one aggregator does not lock its owner out of another", () => {
    const now = Date.now();
    const a = pki.agents[0];
    verifier(now, "agg-2").verify(a.id, token(a, { seq: 1_000_000, now, audience: "agg-2" }), a.id);
    const here = verifier(now, "agg-1");
    assert.throws(
      () => here.verify(a.id, token(a, { seq: 1_000_000, now, audience: "agg-2" }), a.id),
      (e) => isGridletError(e) && e.code === "WRONG_AUDIENCE",
    );
    assert.equal(here.verify(a.id, token(a, { seq: 12, now }), a.id).id, a.id);
  });

  it("refuses a revoked identity", () => {
    const now = Date.now();
    const list = pki.ca.revoke("agent-2", "test");
    const trust = new TrustStore(pki.ca.caCertificate(), { now: () => now, revocations: list });
    const b = pki.agents[1];
    assert.throws(
      () =>
        new LoginVerifier(trust, { audience: "agg-1", now: () => now }).verify(
          b.id,
          token(b, { seq: 1, now }),
          b.id,
        ),
      (e) => isProtocolError(e) && e.code === "REVOKED_SENDER",
    );
  });
});

describe("Home Assistant discovery", () => {
  const o = {
    agentId: "site.7",
    meters: [
      { id: "grid", model: "sdm630 (modbus-rtu)" },
      { id: "pv", model: "x" },
    ],
    swVersion: "1.2.3",
  };

  it("announces import and export energy and power per meter, one device per meter", () => {
    const msgs = discoveryMessages(o);
    assert.equal(msgs.length, 6);
    const imp = JSON.parse(
      msgs.find((m) => m.topic === "homeassistant/sensor/gridlet_site_7/grid_import/config")!.payload,
    );
    assert.equal(imp.device_class, "energy");
    assert.equal(imp.state_class, "total_increasing");
    assert.equal(imp.unit_of_measurement, "kWh");
    assert.equal(imp.default_entity_id, "sensor.gridlet_site_7_grid_import");
    assert.equal(imp.object_id, undefined, "object_id is deprecated since HA 2025.10");
    assert.deepEqual(
      imp.availability.map((a: { topic: string }) => a.topic),
      ["gridlet/v1/agent/site.7/status", "gridlet/v1/agent/site.7/meter/grid/availability"],
    );
    assert.equal(imp.availability_mode, "all");
    assert.equal(imp.state_topic, "gridlet/v1/agent/site.7/meter/grid/state");
    assert.deepEqual(imp.origin, { name: "gridlet", sw_version: "1.2.3" });
    assert.equal(imp.device.sw_version, "1.2.3");
    assert.equal(imp.device.model, "sdm630 (modbus-rtu)");
    const power = JSON.parse(msgs.find((m) => m.topic.endsWith("pv_power/config"))!.payload);
    assert.equal(power.unit_of_measurement, "W");
    assert.equal(power.device_class, "power");
  });

  it("publishes state on every reading, voltage sensors once seen, availability on change", () => {
    const p = new HaPublisher(o);
    const reading = { meter: "grid", ts: 5, importWh: 1234, exportWh: 0, powerW: 900, voltageV: 230.1 };
    const first = p.reading(reading, 1000);
    assert.deepEqual(
      first.map((m) => m.topic),
      [
        "homeassistant/sensor/gridlet_site_7/grid_voltage/config",
        "gridlet/v1/agent/site.7/meter/grid/availability",
        "gridlet/v1/agent/site.7/meter/grid/state",
      ],
    );
    assert.deepEqual(JSON.parse(first[2].payload), {
      import_kwh: 1.234,
      export_kwh: 0,
      power_w: 900,
      voltage_v: 230.1,
      ts: 5,
    });
    assert.deepEqual(
      p.reading(reading, 1001).map((m) => m.topic),
      ["gridlet/v1/agent/site.7/meter/grid/state"],
    );
    assert.deepEqual(
      p.failure("grid").map((m) => m.payload),
      ["offline"],
    );
    assert.deepEqual(p.failure("grid"), [], "offline is said once per outage");
    assert.equal(p.reading(reading, 1002)[0].payload, "online");
    const again = p.onConnect().map((m) => m.topic);
    assert.ok(again.includes("homeassistant/sensor/gridlet_site_7/grid_voltage/config"));
    assert.ok(!again.includes("homeassistant/sensor/gridlet_site_7/pv_voltage/config"));
    assert.ok(again.includes("gridlet/v1/agent/site.7/meter/grid/state"));
  });

  it("throttles state to stateIntervalMs when set", () => {
    const p = new HaPublisher({ ...o, stateIntervalMs: 10_000 });
    const r = { meter: "pv", ts: 1, importWh: 1, exportWh: 2, powerW: -5 };
    const states = (now: number) => p.reading(r, now).filter((m) => m.topic.endsWith("/state")).length;
    assert.deepEqual([states(0), states(5000), states(10_000)], [1, 0, 1]);
  });
});
