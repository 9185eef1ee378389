import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { z } from "#zod";
import { makePki, type TestPki } from "../../bench/harness/pki.js";
import { tempDir } from "../../bench/harness/tmp.js";
import {
  EnvelopeVerifier,
  encodeEnvelope,
  MemorySequenceStore,
  signEnvelope,
} from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import { MSG_READING, type ReceiptBody } from "../../protocol/messages/readings.js";
import { topics } from "../../protocol/topics.js";
import { ingestKit } from "../../test/kits/ingest.js";
import { IngestRetention } from "./retention.js";

describe("ingest", () => {
  const tmp = tempDir();
  let pki: TestPki;
  let n = 0;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  function setup() {
    const { store, receipts, ingest, sent, readings } = ingestKit(tmp.dir, `agg-${n++}.sqlite`, pki);
    const a = pki.agents[0];
    // the same (type, seq, body) gives the same bytes, as a resend from the agent's outbox does
    const ts = Date.now();
    const send = (type: string, seq: number, body: unknown) =>
      ingest.receive(
        topics.agentUp(a.id),
        encodeEnvelope(signEnvelope({ type, from: a.id, seq, ts, body }, a.key.seed)),
      );
    const raw = (payload: string | Buffer) => ingest.receive(topics.agentUp(a.id), Buffer.from(payload));
    const settle = () => {
      ingest.flush();
      receipts.flush();
    };
    return { store, ingest, receipts, sent, send, raw, settle, agent: a, readings };
  }

  const T = Date.now();
  const body = (wh: number) => ({ meter: "m", ts: T + wh, importWh: wh, exportWh: 0, powerMilliW: 1000 });

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

  it("the batch is committed with synchronous=FULL (durable against power loss) before any receipt", () => {
    const { store, ingest, sent, send, settle } = setup();
    const seen: { sync: unknown; receiptsSoFar: number }[] = [];
    ingest.registerHandler("probe", {
      parse: (b) => b,
      store: (db) =>
        seen.push({ sync: db.pragma("synchronous", { simple: true }), receiptsSoFar: sent.length }),
    });
    send("probe", 1, {});
    send("probe", 2, {});
    settle();
    // 2 = FULL: the commit's fsync covers the whole batch (group commit)
    assert.deepEqual(seen, [
      { sync: 2, receiptsSoFar: 0 },
      { sync: 2, receiptsSoFar: 0 },
    ]);
    assert.equal(store.db.pragma("synchronous", { simple: true }), 1, "other writes stay NORMAL");
    assert.deepEqual(
      sent.flatMap((x) => x.env.body.acks),
      [1, 2],
    );
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

  it("lenient JSON is MALFORMED with a receipt telling the agent to drop it (seq found by a scan)", () => {
    const { store, ingest, sent, raw, settle, agent } = setup();
    const good = (seq: number) =>
      encodeEnvelope(
        signEnvelope({ type: MSG_READING, from: agent.id, seq, ts: T, body: body(seq) }, agent.key.seed),
      ).toString();
    raw(good(21).replace('"importWh":21', '"importWh":21,"importWh":50000')); // duplicate key
    raw(good(22).replace('"exportWh":0', '"exportWh":-0')); // negative zero
    raw(
      Buffer.concat([Buffer.from(good(23).replace('"meter":"m"', '"meter":"m')), Buffer.from([0xff, 0x22])]),
    );
    raw(good(24).replace('"meter":"m"', '"meter":"\\ud800"')); // lone surrogate
    raw(good(25).replace('"body":{', `"body":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)},`));
    raw(good(26).replace('"powerMilliW":1000', '"powerMilliW":1000.5')); // a float
    raw("{not json"); // no seq to be found: counted, nothing to tell
    settle();
    const refused = sent.flatMap((x) => x.env.body.rejected);
    assert.deepEqual(
      refused.map((r) => [r.seq, r.code]),
      [21, 22, 23, 24, 25, 26].map((n) => [n, "MALFORMED"]),
    );
    assert.match(refused[0].reason, /duplicate key "importWh"/);
    assert.match(refused[1].reason, /negative zero/);
    assert.match(refused[2].reason, /UTF-8/);
    assert.match(refused[3].reason, /lone surrogate/);
    assert.match(refused[4].reason, /nesting deeper than 16/);
    assert.match(refused[5].reason, /not an integer/);
    assert.equal(ingest.stats.rejected.MALFORMED, 7);
    assert.deepEqual(store.db.prepare("SELECT count(*) AS n FROM readings").get(), { n: 0 });
  });

  it("the same seq with other content is EQUIVOCATION: refused, counted, told with the highest seq stored", () => {
    const { store, ingest, sent, send, settle } = setup();
    send(MSG_READING, 40, body(40));
    send(MSG_READING, 41, body(41));
    send(MSG_READING, 41, body(999)); // same batch, other content
    settle();
    send(MSG_READING, 40, body(40)); // a true resend: receipted again
    send(MSG_READING, 40, body(7)); // committed already, other content
    settle();
    const rows = store.db.prepare("SELECT seq, import_wh AS wh FROM readings ORDER BY seq").all();
    assert.deepEqual(rows, [
      { seq: 40, wh: 40 },
      { seq: 41, wh: 41 },
    ]);
    const refused = sent.flatMap((x) => x.env.body.rejected);
    assert.deepEqual(
      refused.map((r) => [r.seq, r.code]),
      [
        [41, "EQUIVOCATION"],
        [40, "EQUIVOCATION"],
      ],
    );
    assert.deepEqual(
      sent.map((x) => x.env.body.highestSeq),
      [41, 41],
    );
    assert.deepEqual(sent.flatMap((x) => x.env.body.acks).sort(), [40, 40, 41]);
    assert.equal(ingest.stats.equivocations, 2);
    assert.equal(ingest.stats.rejected.EQUIVOCATION, 2);
    assert.equal(ingest.stats.duplicates, 1);
  });

  it("readings pruned by retention are forgotten: the next one is checked against what is still stored", () => {
    const { store, ingest, sent, send, settle, readings } = setup();
    const retention = new IngestRetention(store.db, () => readings.forgetStored());
    const at = (dt: number, importWh: number) => ({
      meter: "m",
      ts: T + dt,
      importWh,
      exportWh: 0,
      powerMilliW: 0,
    });
    send(MSG_READING, 80, at(1, 9_000));
    settle();
    // the meter is replaced by hand and its old readings age out: 9 000 Wh is gone from the store
    assert.equal(retention.prune(T + 2, 100).readings, 1);
    send(MSG_READING, 81, at(3, 40));
    settle();
    assert.deepEqual(sent.at(-1)?.env.body.acks, [81]);
    assert.equal(ingest.stats.rejected.REGISTER_BACKWARDS, undefined);
  });

  it("a register running backwards (1238.9 → 1234.1 kWh) is REGISTER_BACKWARDS, whatever the arrival order", () => {
    const { store, ingest, sent, send, settle } = setup();
    const at = (dt: number, importWh: number, exportWh = 0) => ({
      meter: "m",
      ts: T + dt,
      importWh,
      exportWh,
      powerMilliW: 0,
    });
    send(MSG_READING, 60, at(10, 1_238_900));
    send(MSG_READING, 61, at(20, 1_234_100)); // the counter went back
    send(MSG_READING, 62, at(40, 1_240_000));
    settle();
    send(MSG_READING, 63, at(30, 1_239_500)); // late, but between its neighbours: fine
    send(MSG_READING, 64, at(35, 1_241_000)); // late, and above the later reading at 40
    send(MSG_READING, 65, at(50, 1_240_000, 0)); // flat is fine
    send(MSG_READING, 66, at(55, 1_240_500, 10));
    send(MSG_READING, 67, at(60, 1_240_600, 9)); // export back
    settle();
    const stored = store.db.prepare("SELECT seq FROM readings ORDER BY seq").all() as { seq: number }[];
    assert.deepEqual(
      stored.map((r) => r.seq),
      [60, 62, 63, 65, 66],
    );
    const refused = sent.flatMap((x) => x.env.body.rejected);
    assert.deepEqual(
      refused.map((r) => [r.seq, r.code]),
      [
        [61, "REGISTER_BACKWARDS"],
        [64, "REGISTER_BACKWARDS"],
        [67, "REGISTER_BACKWARDS"],
      ],
    );
    assert.match(refused[0].reason, /importWh 1234100 .* is below 1238900/);
    assert.match(refused[1].reason, /importWh 1241000 .* is above 1240000/);
    assert.match(refused[2].reason, /exportWh 9 .* is below 10/);
    assert.equal(ingest.stats.rejected.REGISTER_BACKWARDS, 3);
    // another meter of the same agent has its own registers
    send(MSG_READING, 68, { ...at(70, 5), meter: "m2" });
    settle();
    assert.deepEqual(sent.at(-1)?.env.body.acks, [68]);
  });

  it("BAD_BODY names the field and the problem as 'path: message'", () => {
    const { sent, send, settle } = setup();
    send(MSG_READING, 50, { ...body(50), importWh: -3 });
    send(MSG_READING, 51, { ...body(51), powerW: 5 });
    settle();
    const refused = sent.flatMap((x) => x.env.body.rejected);
    assert.deepEqual(
      refused.map((r) => r.code),
      ["BAD_BODY", "BAD_BODY"],
    );
    assert.match(refused[0].reason, /^importWh: /);
    assert.match(refused[1].reason, /^\(body\): .*powerW/);
  });

  it("under load commits are spaced (group commit); at light load each goes at the end of its turn", async () => {
    let clock = 0;
    const kit = ingestKit(tmp.dir, `agg-${n++}.sqlite`, pki, {
      commitSpacingMs: 40,
      monotonicMs: () => clock,
    });
    const a = pki.agents[0];
    let seq = 0;
    const send = (k: number) => {
      for (let i = 0; i < k; i++) {
        seq++;
        const b = { meter: "m", ts: T + seq, importWh: seq, exportWh: 0, powerMilliW: 0 };
        kit.ingest.receive(
          topics.agentUp(a.id),
          encodeEnvelope(signEnvelope({ type: MSG_READING, from: a.id, seq, ts: T, body: b }, a.key.seed)),
        );
      }
    };
    const stored = () =>
      kit.store.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM readings").get()!.n;
    const turn = () => new Promise((r) => setImmediate(r));
    // light load: a small commit, then the next envelope is committed on the next turn, spacing or not
    send(3);
    await turn();
    assert.equal(stored(), 3);
    send(1);
    await turn();
    assert.equal(stored(), 4);
    // a large commit: what follows waits for the spacing, then goes in one commit
    send(100);
    await turn();
    assert.equal(stored(), 104);
    clock = 10;
    send(5);
    await turn();
    await turn();
    assert.equal(stored(), 104, "committed before the spacing passed");
    clock = 45;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(stored(), 109);
    // close commits what waits, whatever the spacing
    send(2);
    await kit.ingest.close();
    assert.equal(stored(), 111);
    kit.store.close();
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
    const { store, receipts, ingest } = ingestKit(tmp.dir, "fuzz.sqlite", pki);
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
