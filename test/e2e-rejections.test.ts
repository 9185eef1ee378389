import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import mqtt, { type MqttClient } from "#mqtt";
import { readingBody } from "../agent/runtime/agent.js";
import { writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestIdentity, type TestPki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, rejectionCounts } from "../bench/harness/verify-db.js";
import { type Envelope, encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { loginToken } from "../protocol/login.js";
import { MSG_READING, MSG_RECEIPT, type ReceiptBody } from "../protocol/messages/readings.js";
import { topics } from "../protocol/topics.js";
import { startMosquitto } from "./helpers/mosquitto.js";

let seqBase = Date.now() * 1000;

function reading(agent: TestIdentity, seq: number, ts = Date.now()): Envelope {
  return signEnvelope(
    {
      type: MSG_READING,
      from: agent.id,
      seq,
      ts,
      body: readingBody({ meter: "m", ts, importWh: seq % 1000, exportWh: 0, powerW: 5 }),
    },
    agent.key.seed,
  );
}

/** An MQTT client that logs in as `who` with a real login token (or the given password). */
async function connectAs(url: string, who: TestIdentity, password?: string): Promise<MqttClient> {
  const clientId = `${who.id}/test-${Math.random().toString(16).slice(2)}`;
  const client = mqtt.connect(url, {
    clientId,
    username: who.id,
    password:
      password ??
      loginToken(who.key, who.cert, { clientId, audience: "agg-1", seq: seqBase++, now: Date.now() }),
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

function receiptsFor(client: MqttClient, agent: string): ReceiptBody[] {
  const got: ReceiptBody[] = [];
  client.on("message", (topic, payload) => {
    if (topic !== topics.agentDown(agent)) return;
    const env = JSON.parse(payload.toString()) as Envelope<ReceiptBody>;
    if (env.type === MSG_RECEIPT) got.push(env.body);
  });
  return got;
}

describe("the aggregator refuses what it must, and counts it", { timeout: 90_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
  });
  after(() => tmp.cleanup());

  it("embedded broker: forged, replayed, foreign-topic, bad login and foreign subscription", async () => {
    const dir = join(tmp.dir, "aedes");
    mkdirSync(dir);
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const agg: Proc = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { embeddedPort: port }),
    ]);
    const db = join(dir, "agg-1.sqlite");
    const [a1, a2] = pki.agents;
    try {
      await agg.waitForOutput(/aggregator started/);
      const client = await connectAs(url, a1);
      const receipts = receiptsFor(client, a1.id);
      await client.subscribeAsync(topics.agentDown(a1.id), { qos: 1 });

      const good = reading(a1, seqBase++);
      await client.publishAsync(topics.agentUp(a1.id), encodeEnvelope(good), { qos: 1 });
      await waitFor("the good reading stored", () => aggregatorReadings(db).length === 1);
      await waitFor("its receipt", () => receipts.some((r) => r.acks.includes(good.seq)));

      // Forged: the body changed after signing.
      const forged = { ...reading(a1, seqBase++), body: { ...(good.body as object), importWh: 999_999 } };
      await client.publishAsync(topics.agentUp(a1.id), encodeEnvelope(forged as Envelope), { qos: 1 });
      // Replayed: the same envelope again is not stored twice, only receipted again.
      await client.publishAsync(topics.agentUp(a1.id), encodeEnvelope(good), { qos: 1 });
      await waitFor("counters", () => {
        const c = rejectionCounts(db);
        return c.BAD_SIGNATURE === 1 && c.DUPLICATE === 1;
      });
      await waitFor(
        "a second receipt for the replay",
        () => receipts.filter((r) => r.acks.includes(good.seq)).length === 2,
      );
      assert.equal(aggregatorReadings(db).length, 1);

      // Subscribing to another agent's receipts is refused (SUBACK 0x80, which mqtt.js reports as an error).
      await assert.rejects(client.subscribeAsync(topics.agentDown(a2.id), { qos: 1 }), /Subscribe error/);

      // Publishing on another agent's topic: the broker refuses (and drops the connection).
      client.publish(topics.agentUp(a2.id), encodeEnvelope(reading(a1, seqBase++)), { qos: 1 });
      await waitFor(
        "the foreign publish refused",
        () => (rejectionCounts(db).BROKER_PUBLISH_DENIED ?? 0) >= 1,
      );
      client.end(true);

      // A login token signed by someone else.
      const thief = { ...a2, key: a1.key };
      await assert.rejects(connectAs(url, thief), /Bad username or password|Not authorized/i);
      // No token at all.
      await assert.rejects(connectAs(url, a2, "not a token"), /Bad username or password|Not authorized/i);
      await waitFor("login refusals counted", () => {
        const c = rejectionCounts(db);
        return c.BROKER_BAD_SIGNATURE === 1 && c.BROKER_MALFORMED === 1 && c.BROKER_SUBSCRIBE_DENIED === 1;
      });
      assert.equal(aggregatorReadings(db).length, 1, "nothing refused was stored");
      assert.match(agg.output(), /envelope rejected.*BAD_SIGNATURE/);
    } finally {
      await agg.stop();
    }
  });

  it("external broker without ACL: the aggregator still refuses a reading on a foreign topic, stale or unknown", async () => {
    const dir = join(tmp.dir, "mosquitto");
    mkdirSync(dir);
    const broker = await startMosquitto(dir, await freePort());
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { url: broker.url }),
    ]);
    const db = join(dir, "agg-1.sqlite");
    const [a1, a2] = pki.agents;
    try {
      await agg.waitForOutput(/aggregator started/);
      const client = await connectAs(broker.url, a1);
      const receipts = receiptsFor(client, a1.id);
      await client.subscribeAsync(topics.agentDown(a1.id), { qos: 1 });
      // agent-1 signs honestly but publishes as if it were agent-2.
      await client.publishAsync(topics.agentUp(a2.id), encodeEnvelope(reading(a1, seqBase++)), { qos: 1 });
      // Older than the 30-day limit for readings: refused for good, and the receipt says so.
      const stale = reading(a1, seqBase++, Date.now() - 31 * 86_400_000);
      await client.publishAsync(topics.agentUp(a1.id), encodeEnvelope(stale), { qos: 1 });
      // An identity the CA never issued.
      const stranger = { ...a1, id: "stranger" };
      await client.publishAsync(topics.agentUp("stranger"), encodeEnvelope(reading(stranger, seqBase++)), {
        qos: 1,
      });
      await client.publishAsync(topics.agentUp(a1.id), Buffer.from("{not json"), { qos: 1 });
      await waitFor("counters", () => {
        const c = rejectionCounts(db);
        return c.WRONG_TOPIC === 1 && c.STALE === 1 && c.UNKNOWN_SENDER === 1 && c.MALFORMED === 1;
      });
      await waitFor("a receipt refusing the stale reading", () =>
        receipts.some((r) => r.rejected.some((x) => x.seq === stale.seq && x.code === "STALE")),
      );
      assert.equal(aggregatorReadings(db).length, 0);
      await client.endAsync();
    } finally {
      await agg.stop();
      await broker.stop();
    }
  });

  it("Mosquitto with the shipped ACL drops an agent's publish on another agent's topic", async () => {
    const dir = join(tmp.dir, "mosquitto-acl");
    mkdirSync(dir);
    const acl = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "config", "mosquitto.acl.example");
    // Authorisation only: without TLS client certificates Mosquitto takes the username on trust.
    const broker = await startMosquitto(dir, await freePort(), `acl_file ${acl}\n`);
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { url: broker.url }),
    ]);
    const db = join(dir, "agg-1.sqlite");
    const [a1, a2] = pki.agents;
    try {
      await agg.waitForOutput(/aggregator started/);
      const client = await connectAs(broker.url, a1);
      const receipts = receiptsFor(client, a1.id);
      await client.subscribeAsync(topics.agentDown(a1.id), { qos: 1 });
      // Signed by agent-2's key on agent-2's topic, but sent over agent-1's connection: the ACL drops it.
      await client.publishAsync(topics.agentUp(a2.id), encodeEnvelope(reading(a2, seqBase++)), { qos: 1 });
      const own = reading(a1, seqBase++);
      await client.publishAsync(topics.agentUp(a1.id), encodeEnvelope(own), { qos: 1 });
      await waitFor("agent-1's own reading receipted", () => receipts.some((r) => r.acks.includes(own.seq)));
      const rows = aggregatorReadings(db);
      assert.deepEqual(
        rows.map((r) => r.sender),
        ["agent-1"],
      );
      await client.endAsync();
    } finally {
      await agg.stop();
      await broker.stop();
    }
  });

  it("a revocation takes effect while the aggregator runs: the connection cut, new logins refused", async () => {
    const dir = join(tmp.dir, "revoke");
    mkdirSync(dir);
    const local = makePki(dir, "agg-1", ["agent-1", "agent-2"]);
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, local, { embeddedPort: port }, { revocationsPollMs: 200 }),
    ]);
    const db = join(dir, "agg-1.sqlite");
    const victim = local.agents[1];
    try {
      await agg.waitForOutput(/aggregator started/);
      const client = await connectAs(url, victim);
      const cut = new Promise<void>((resolve) => client.once("close", () => resolve()));
      await client.publishAsync(topics.agentUp(victim.id), encodeEnvelope(reading(victim, seqBase++)), {
        qos: 1,
      });
      await waitFor("the reading before revocation", () => aggregatorReadings(db).length === 1);
      local.ca.revoke(victim.id, "key leaked");
      await agg.waitForOutput(/revocation list installed/);
      await cut;
      await waitFor("the cut counted", () => rejectionCounts(db).BROKER_REVOKED_CUT === 1);
      client.end(true);
      await assert.rejects(connectAs(url, victim), /Bad username or password|Not authorized/i);
      await waitFor("the login refused", () => rejectionCounts(db).BROKER_REVOKED_SENDER === 1);
      assert.equal(aggregatorReadings(db).length, 1);
    } finally {
      await agg.stop();
    }
  });
});
