/**
 * The envelope leniencies found when Gridlet was attacked from outside, against a real aggregator process
 * with its embedded broker: each is refused with its code, counted, and answered with a receipt that
 * tells the agent to drop the envelope, so that nothing is resent for ever and nothing lenient is stored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import mqtt, { type MqttClient } from "#mqtt";
import { readingBody } from "../agent/runtime/agent.js";
import { writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestIdentity } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, rejectionCounts } from "../bench/harness/verify-db.js";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { loginToken } from "../protocol/login.js";
import { MSG_READING, MSG_RECEIPT, type ReceiptBody } from "../protocol/messages/readings.js";
import { seqFloor } from "../protocol/sequence.js";
import { topics } from "../protocol/topics.js";

async function connectAs(url: string, who: TestIdentity): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId: who.id,
    username: who.id,
    password: loginToken(who.key, who.cert, {
      clientId: who.id,
      audience: "agg-1",
      seq: seqFloor(Date.now()),
      now: Date.now(),
    }),
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

describe("strict envelopes at a real aggregator", { timeout: 90_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("duplicate keys, -0, bad UTF-8, lone surrogates, deep nesting, floats: MALFORMED; a changed resend: EQUIVOCATION", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const port = await freePort();
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(tmp.dir, pki, { embeddedPort: port }),
    ]);
    const db = join(tmp.dir, "agg-1.sqlite");
    const a = pki.agents[0];
    try {
      await agg.waitForOutput(/aggregator started/);
      const client = await connectAs(`mqtt://127.0.0.1:${port}`, a);
      const receipts: ReceiptBody[] = [];
      client.on("message", (_t, payload) => {
        const env = JSON.parse(payload.toString());
        if (env.type === MSG_RECEIPT) receipts.push(env.body);
      });
      await client.subscribeAsync(topics.agentDown(a.id), { qos: 1 });
      const base = seqFloor(Date.now());
      const ts = Date.now();
      const signed = (seq: number, importWh = 100) =>
        encodeEnvelope(
          signEnvelope(
            {
              type: MSG_READING,
              from: a.id,
              seq,
              ts,
              body: readingBody({ meter: "m", ts, importWh, exportWh: 0, powerW: 5 }),
            },
            a.key.seed,
          ),
        ).toString();
      const up = (payload: string | Buffer) => client.publishAsync(topics.agentUp(a.id), payload, { qos: 1 });

      await up(signed(base));
      const attacks: [number, string | Buffer, RegExp][] = [
        [
          base + 1,
          signed(base + 1).replace('"importWh":100', '"importWh":100,"importWh":50000'),
          /duplicate key/,
        ],
        [base + 2, signed(base + 2).replace('"exportWh":0', '"exportWh":-0'), /negative zero/],
        [
          base + 3,
          Buffer.concat([
            Buffer.from(signed(base + 3).replace('"meter":"m"', '"meter":"m')),
            Buffer.from([0xc0, 0xaf, 0x22]),
          ]),
          /UTF-8/,
        ],
        [base + 4, signed(base + 4).replace('"meter":"m"', '"meter":"\\ud800"'), /lone surrogate/],
        [
          base + 5,
          signed(base + 5).replace('"body":{', `"body":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)},`),
          /nesting/,
        ],
        [base + 6, signed(base + 6).replace('"powerMilliW":5000', '"powerMilliW":-2300.7'), /not an integer/],
      ];
      for (const [, payload] of attacks) await up(payload);
      await up(signed(base, 999)); // the first sequence number again, with other content
      await waitFor(
        "every refusal receipted",
        () => receipts.flatMap((r) => r.rejected).length >= attacks.length + 1,
      );
      const refused = receipts.flatMap((r) => r.rejected);
      for (const [seq, , reason] of attacks) {
        const r = refused.find((x) => x.seq === seq);
        assert.ok(r, `a receipt refusing ${seq}`);
        assert.equal(r.code, "MALFORMED");
        assert.match(r.reason, reason);
      }
      const eq = refused.find((x) => x.code === "EQUIVOCATION");
      assert.equal(eq?.seq, base);
      assert.equal(receipts.find((r) => r.rejected.some((x) => x.code === "EQUIVOCATION"))?.highestSeq, base);
      const counts = rejectionCounts(db);
      assert.equal(counts.MALFORMED, attacks.length);
      assert.equal(counts.EQUIVOCATION, 1);
      const stored = aggregatorReadings(db);
      assert.deepEqual(
        stored.map((r) => [r.seq, r.importWh]),
        [[base, 100]],
        "only the first, strict envelope is stored",
      );
      client.end(true);
    } finally {
      await agg.stop();
    }
  });
});
