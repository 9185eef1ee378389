import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { makePki, type TestPki } from "../../bench/harness/pki.js";
import { tempDir } from "../../bench/harness/tmp.js";
import {
  type Envelope,
  EnvelopeVerifier,
  encodeEnvelope,
  MemorySequenceStore,
  signEnvelope,
} from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import { silentLogger } from "../../protocol/log.js";
import { MSG_READING, type ReceiptBody } from "../../protocol/messages/readings.js";
import { topics } from "../../protocol/topics.js";
import { Ingest } from "./ingest.js";
import { readingsHandler } from "./readings.js";
import { ReceiptBatcher } from "./receipts.js";
import { AggregatorStore } from "./store.js";

describe("ingest", () => {
  const tmp = tempDir();
  let pki: TestPki;
  let n = 0;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  function setup() {
    const store = new AggregatorStore(join(tmp.dir, `agg-${n++}.sqlite`), "agg-1", () => 1);
    const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
    for (const a of pki.agents) trust.add(a.cert);
    const sent: { topic: string; env: Envelope<ReceiptBody> }[] = [];
    const receipts = new ReceiptBatcher({
      aggregatorId: "agg-1",
      seed: pki.aggregator.key.seed,
      nextSeq: () => store.allocateSeq(),
      now: Date.now,
      delayMs: 0,
      maxPerReceipt: 1000,
      sender: { send: (topic, payload) => sent.push({ topic, env: JSON.parse(payload.toString()) }) },
    });
    const ingest = new Ingest({
      store,
      directory: trust,
      receipts,
      now: Date.now,
      maxFutureMs: 60_000,
      log: silentLogger,
    });
    ingest.registerHandler(MSG_READING, readingsHandler(store.db, 86_400_000));
    const a = pki.agents[0];
    const send = (type: string, seq: number, body: unknown) =>
      ingest.receive(
        topics.agentUp(a.id),
        encodeEnvelope(signEnvelope({ type, from: a.id, seq, ts: Date.now(), body }, a.key.seed)),
      );
    const settle = () => {
      ingest.flush();
      receipts.flush();
    };
    return { store, ingest, receipts, sent, send, settle };
  }

  const body = (wh: number) => ({ meter: "m", ts: Date.now(), importWh: wh, exportWh: 0, powerW: 1 });

  it("dispatches a newly registered type to its handler inside the commit, then receipts it", () => {
    const { store, ingest, sent, send, settle } = setup();
    store.db.exec("CREATE TABLE notes (sender TEXT, seq INTEGER, text TEXT)");
    const insert = store.db.prepare("INSERT INTO notes VALUES (?, ?, ?)");
    ingest.registerHandler("note", {
      parse: (b) => z.object({ text: z.string() }).strict().parse(b),
      store: (_db, env, b) => insert.run(env.from, env.seq, b.text),
    });
    assert.throws(
      () => ingest.registerHandler("note", { parse: (b) => b, store: () => undefined }),
      RangeError,
    );
    send("note", 7, { text: "hello" });
    send("note", 8, { text: 42 });
    settle();
    assert.deepEqual(store.db.prepare("SELECT sender, seq, text FROM notes").all(), [
      { sender: "agent-1", seq: 7, text: "hello" },
    ]);
    const all = sent.flatMap((s) => s.env.body.acks);
    assert.deepEqual(all, [7]);
    const refused = sent.flatMap((s) => s.env.body.rejected);
    assert.deepEqual(
      refused.map((r) => [r.seq, r.code]),
      [[8, "BAD_BODY"]],
    );
    assert.equal(ingest.stats.rejected.BAD_BODY, 1);
  });

  it("stores each (sender, seq) once whatever the order, and receipts duplicates again", () => {
    const { store, ingest, sent, send, settle } = setup();
    send(MSG_READING, 10, body(10));
    send(MSG_READING, 10, body(10)); // same batch
    settle();
    send(MSG_READING, 5, body(5)); // lower, never seen: accepted (order is not the replay check)
    send(MSG_READING, 10, body(10)); // already committed
    settle();
    const rows = store.db.prepare("SELECT seq FROM readings ORDER BY seq").all();
    assert.deepEqual(rows, [{ seq: 5 }, { seq: 10 }]);
    assert.equal(ingest.stats.duplicates, 2);
    const acks = sent.flatMap((s) => s.env.body.acks).sort((a, b) => a - b);
    assert.deepEqual(acks, [5, 10, 10]);
  });

  it("signs one receipt for many envelopes, verifiable with the aggregator's certificate", () => {
    const { sent, send, settle } = setup();
    for (let i = 1; i <= 300; i++) send(MSG_READING, i, body(i));
    settle();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].topic, topics.agentDown("agent-1"));
    const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
    trust.add(pki.aggregator.cert);
    const v = new EnvelopeVerifier({ directory: trust, sequences: new MemorySequenceStore(), now: Date.now });
    const env = v.verify(JSON.stringify(sent[0].env));
    assert.equal((env.body as ReceiptBody).acks.length, 300);
    assert.equal((env.body as ReceiptBody).to, "agent-1");
  });
});

describe("ingest from arbitrary input", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("any payload on any topic is refused with a counted code or accepted, never a crash", () => {
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    const store = new AggregatorStore(join(tmp.dir, "fuzz.sqlite"), "agg-1", () => 1);
    const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
    trust.add(pki.agents[0].cert);
    const receipts = new ReceiptBatcher({
      aggregatorId: "agg-1",
      seed: pki.aggregator.key.seed,
      nextSeq: () => store.allocateSeq(),
      now: Date.now,
      delayMs: 0,
      maxPerReceipt: 1000,
      sender: { send: () => undefined },
    });
    const ingest = new Ingest({
      store,
      directory: trust,
      receipts,
      now: Date.now,
      maxFutureMs: 60_000,
      log: silentLogger,
    });
    ingest.registerHandler(MSG_READING, readingsHandler(store.db, 86_400_000));
    const json = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc
        .record({
          v: fc.constant(1),
          type: fc.string(),
          from: fc.constant("agent-1"),
          seq: fc.nat(),
          ts: fc.nat(),
          body: fc.jsonValue(),
          sig: fc.stringMatching(/^[0-9a-f]{128}$/),
        })
        .map((o) => Buffer.from(JSON.stringify(o))),
    );
    let received = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(topics.agentUp("agent-1"), topics.agentUp("agent-2"), "x/y"),
        json,
        (topic, payload) => {
          ingest.receive(topic, payload);
          if (topic !== "x/y") received += 1;
        },
      ),
      { numRuns: 600 },
    );
    ingest.flush();
    const refused = Object.values(ingest.stats.rejected).reduce((a, b) => a + b, 0);
    assert.equal(ingest.stats.accepted, 0, "nothing unsigned got in");
    assert.equal(refused, received, "every message on an agent topic was counted once");
    receipts.stop();
    store.close();
  });
});
