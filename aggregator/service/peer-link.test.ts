import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import mqtt from "#mqtt";
import { freePort } from "../../bench/harness/net.js";
import { tempDir } from "../../bench/harness/tmp.js";
import { CaDirectory } from "../../protocol/ca-dir.js";
import { defaultEd25519 } from "../../protocol/crypto/index.js";
import { signEnvelope } from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import { silentLogger } from "../../protocol/log.js";
import { loginToken } from "../../protocol/login.js";
import { startEmbeddedBroker } from "../broker/embedded.js";
import { LoginVerifier } from "../broker/login.js";
import type { Message } from "../consensus/messages.js";
import { PeerLink, peerRetryMs, peerTopics } from "./peer-link.js";

const tmp = tempDir();
after(() => tmp.cleanup());

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A CA with two aggregators, eag0 (its broker on `port`) and eag1 (no broker of its own). */
function twoAggregators(name: string, port: number) {
  const ca = new CaDirectory(join(tmp.dir, `ca-${name}`));
  ca.init("test-ca");
  const out = join(tmp.dir, `ids-${name}`);
  const a0 = ca.issue({ role: "aggregator", id: "eag0" }, out);
  const a1 = ca.issue({ role: "aggregator", id: "eag1" }, out);
  const consortium = {
    v: 1 as const,
    name: "t",
    issued: 0,
    members: [
      { id: "eag0", publicKey: a0.cert.publicKey, broker: `mqtt://127.0.0.1:${port}` },
      // eag1's own broker is not needed here: eag1 only listens to eag0
      { id: "eag1", publicKey: a1.cert.publicKey, broker: "mqtt://127.0.0.1:1" },
    ],
  };
  let loginSeq = Date.now() * 1000;
  /** eag1's link to eag0's broker, handing what it accepts to `deliver` */
  const link1 = (deliver: (m: Message) => void = () => undefined) =>
    new PeerLink({
      consortium,
      self: "eag1",
      key: a1.key,
      cert: a1.cert,
      crypto: defaultEd25519,
      publishOwn: () => undefined,
      deliver,
      nextLoginSeq: () => ++loginSeq,
      now: Date.now,
      log: silentLogger,
    });
  /** eag0's embedded broker, accepting login tokens dated within `skewMs` of now */
  const broker = (skewMs?: number) =>
    startEmbeddedBroker({
      host: "127.0.0.1",
      port,
      login: new LoginVerifier(new TrustStore(ca.caCertificate(), { now: Date.now }), {
        audience: "eag0",
        now: Date.now,
        ...(skewMs === undefined ? {} : { skewMs }),
      }),
      log: silentLogger,
    });
  return { ca, out, a0, a1, consortium, link1, broker, nextLoginSeq: () => ++loginSeq };
}

test("peer link: logs in to a peer's broker with its aggregator key; only messages signed by that peer get through", async () => {
  const port = await freePort();
  const k = twoAggregators("signed", port);
  const { ca, out, a0, a1, consortium } = k;
  const mallory = ca.issue({ role: "agent", id: "mallory", home: "eag0", wallets: 1 }, out);
  const broker = await k.broker();
  const delivered: Message[] = [];
  const link1 = k.link1((m) => delivered.push(m));
  // eag0's side: publishes in-process on its broker, never connects (its peer's broker is absent)
  const link0 = new PeerLink({
    consortium: { ...consortium, members: [consortium.members[0]] },
    self: "eag0",
    key: a0.key,
    cert: a0.cert,
    crypto: defaultEd25519,
    publishOwn: (topic, payload) => broker.publish(topic, payload),
    deliver: () => undefined,
    nextLoginSeq: k.nextLoginSeq,
    now: Date.now,
    log: silentLogger,
  });
  try {
    await link1.ready(5000);
    assert.deepEqual(link1.connectedPeers(), ["eag0"], "eag1 logged in at eag0's broker");
    await new Promise((r) => setTimeout(r, 200)); // subscription acknowledged

    const fetch: Message = { t: "fetch", from: "eag0", fromSeq: 3 };
    link0.broadcast(fetch); // enveloped and signed by eag0
    link0.send("eag1", { t: "fetch", from: "eag0", fromSeq: 4 });
    const topic = peerTopics.broadcast("eag0");
    // forgeries arriving on eag0's topics
    broker.publish(topic, JSON.stringify({ raw: { t: "prepare", from: "eag2" } }));
    broker.publish(topic, JSON.stringify({ raw: { t: "fetch", from: "eag0", fromSeq: 9 } }));
    const forged = signEnvelope(
      {
        type: "consensus",
        from: "eag0",
        seq: 1,
        ts: Date.now(),
        body: { t: "fetch", from: "eag0", fromSeq: 7 },
      },
      a1.key.seed,
    );
    broker.publish(topic, JSON.stringify(forged));
    broker.publish(topic, "not json");
    await until("every message judged", () => [...link1.refused.values()].reduce((a, b) => a + b, 0) >= 4);
    await until("both genuine messages", () => delivered.length >= 2);
    assert.deepEqual(
      delivered.map((m) => (m as { fromSeq: number }).fromSeq).sort(),
      [3, 4],
      "only eag0's signed messages reach the core",
    );
    assert.equal(link1.refused.get("WRONG_SENDER"), 1);
    assert.equal(link1.refused.get("UNSIGNED"), 1, "a raw message that carries no signature of its own");
    assert.equal(link1.refused.get("BAD_SIGNATURE"), 1);
    assert.equal(link1.refused.get("MALFORMED"), 1);

    // an agent may log in, but not listen to consensus traffic
    const clientId = "mallory/1";
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId,
      username: "mallory",
      password: loginToken(mallory.key, mallory.cert, {
        clientId,
        audience: "eag0",
        seq: 1,
        now: Date.now(),
      }),
      reconnectPeriod: 0,
    });
    // the broker answers 0x80 for the filter, which the client reports as a failed subscription
    await assert.rejects(c.subscribeAsync(topic, { qos: 0 }), /Subscribe error/);
    assert.equal(broker.refusals().SUBSCRIBE_DENIED, 1, "subscription to consensus traffic refused");
    await c.endAsync(true);
  } finally {
    await link1.close();
    await link0.close();
    await broker.close();
  }
});

test("peer link: retries a broker that is not up yet ever more slowly, and reaches it with a token made just then", async () => {
  // 0.5 s doubling to 5 s, up to half again of jitter
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((k) => peerRetryMs(k, 0)),
    [500, 1000, 2000, 4000, 5000, 5000],
  );
  assert.equal(peerRetryMs(0, 0.999), 750);
  assert.equal(peerRetryMs(50, 5), 7500, "jitter bounded");

  const port = await freePort();
  const k = twoAggregators("late", port);
  const link1 = k.link1();
  // eag0's broker comes up 2.5 s later and accepts only tokens at most 1.5 s old: the token made at the
  // first attempt is stale by then, so only a fresh one gets in
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(link1.connectedPeers(), [], "nothing to connect to yet");
  const broker = await k.broker(1500);
  try {
    await until("eag1 reached eag0's late broker", () => link1.connectedPeers().includes("eag0"), 10_000);
    assert.equal(broker.refusals().STALE ?? 0, 0, "no stale token presented");
  } finally {
    await link1.close();
    await broker.close();
  }
});
