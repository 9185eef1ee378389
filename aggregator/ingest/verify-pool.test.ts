import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { z } from "#zod";
import { makePki, type TestPki } from "../../bench/harness/pki.js";
import { tempDir } from "../../bench/harness/tmp.js";
import { fromHex } from "../../protocol/bytes.js";
import { encodeEnvelope, envelopeSigningBytes, signEnvelope } from "../../protocol/envelope.js";
import { MSG_READING } from "../../protocol/messages/readings.js";
import { topics } from "../../protocol/topics.js";
import { ingestKit } from "../../test/kits/ingest.js";
import { SignatureCache } from "../node/sig-cache.js";
import { MIN_THREAD_BATCH } from "./ingest.js";
import { defaultVerifyThreads, VerifyPool } from "./verify-pool.js";

describe("verify pool", () => {
  const tmp = tempDir();
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1", "agent-2"]);
  });
  after(() => tmp.cleanup());

  const T = Date.now();
  const reading = (seq: number, importWh = seq * 10) => ({
    meter: "m",
    ts: T + seq,
    importWh,
    exportWh: 0,
    powerMilliW: 0,
  });
  const signed = (seq: number, i = 0, body: unknown = reading(seq)) => {
    const a = pki.agents[i];
    return signEnvelope({ type: MSG_READING, from: a.id, seq, ts: T, body }, a.key.seed);
  };
  const key = (i = 0) => fromHex(pki.agents[i].cert.publicKey)!;

  it("two threads on a multi-core board, none on one core", () => {
    assert.equal(defaultVerifyThreads(1), 0);
    assert.equal(defaultVerifyThreads(2), 2);
    assert.equal(defaultVerifyThreads(4), 2);
  });

  it("answers each batch in job order: good, forged body, other sender's key, garbage", async () => {
    const pool = new VerifyPool(2);
    try {
      const good = signed(1);
      const forged = { ...signed(2), body: reading(2, 999) };
      const jobs = [
        { wire: encodeEnvelope(good), key: key() },
        { wire: encodeEnvelope(forged), key: key() },
        { wire: encodeEnvelope(good), key: key(1) },
        { wire: Buffer.from("not json"), key: key() },
        { wire: encodeEnvelope(signed(3, 1)), key: key(1) },
      ];
      // several batches at once, spread over both threads: each comes back with its own verdicts
      const answers = await Promise.all([pool.verify(jobs), pool.verify(jobs.slice(1)), pool.verify([])]);
      assert.deepEqual(answers[0], [true, false, false, false, true]);
      assert.deepEqual(answers[1], [false, false, false, true]);
      assert.deepEqual(answers[2], []);
      const many = Array.from({ length: 600 }, (_, k) => ({
        wire: encodeEnvelope(signed(k + 1)),
        key: key(),
      }));
      many[417] = { wire: encodeEnvelope({ ...signed(418), seq: 9999 }), key: key() };
      const verdicts = await pool.verify(many);
      assert.equal(verdicts.length, 600);
      assert.deepEqual(
        verdicts.flatMap((ok, k) => (ok ? [] : [k])),
        [417],
      );
      assert.throws(
        () => pool.verify([{ wire: encodeEnvelope(good), key: new Uint8Array(31) }]),
        /32-byte key/,
      );
    } finally {
      await pool.close();
    }
  });

  it("a batch in flight keeps the process alive until it is answered; idle threads do not", () => {
    // a script whose only pending work is the pool's answer: it must print it, then exit by itself
    const pool = new URL("./verify-pool.js", import.meta.url).href;
    const script = `import { VerifyPool } from ${JSON.stringify(pool)};
      const p = new VerifyPool(1);
      const ok = await p.verify([{ wire: Buffer.from(process.argv[1]), key: Buffer.from(process.argv[2], "hex") }]);
      console.log(JSON.stringify(ok));`;
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        script,
        encodeEnvelope(signed(1)).toString(),
        pki.agents[0].cert.publicKey,
      ],
      { encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "[true]");
  });

  it("a closed pool rejects what is in flight and everything after, and says it is broken", async () => {
    const pool = new VerifyPool(1);
    const inFlight = assert.rejects(
      pool.verify([{ wire: encodeEnvelope(signed(1)), key: key() }]),
      /verify pool closed/,
    );
    await pool.close();
    await inFlight;
    await assert.rejects(pool.verify([{ wire: encodeEnvelope(signed(1)), key: key() }]), /closed/);
    assert.match(String(pool.broken), /closed/);
  });
});

describe("ingest with verify threads", () => {
  const tmp = tempDir();
  let pki: TestPki;
  let n = 0;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  const T = Date.now();
  const at = (dt: number, importWh: number) => ({
    meter: "m",
    ts: T + dt,
    importWh,
    exportWh: 0,
    powerMilliW: 0,
  });

  function setup(pool: VerifyPool) {
    const cache = new SignatureCache();
    const remembered: string[] = [];
    const kit = ingestKit(tmp.dir, `agg-${n++}.sqlite`, pki, {
      pool,
      checkSignature: (env, pk) => cache.verify(env, pk),
      rememberSignature: (env, pk, bytes, ok) => {
        remembered.push(`${env.type}/${env.seq}/${ok}`);
        cache.remember(env, pk, bytes, ok);
      },
    });
    const { store, ingest, receipts, readings } = kit;
    /** the receipts signed so far */
    const receiptBodies = () => kit.sent.map((x) => x.env.body);
    const a = pki.agents[0];
    const envelope = (type: string, seq: number, body: unknown) =>
      signEnvelope({ type, from: a.id, seq, ts: T, body }, a.key.seed);
    const deliver = (env: unknown) => ingest.receive(topics.agentUp(a.id), Buffer.from(JSON.stringify(env)));
    const settle = async () => {
      await ingest.settle();
      receipts.flush();
    };
    const storedSeqs = () =>
      (store.db.prepare("SELECT seq FROM readings ORDER BY seq").all() as { seq: number }[]).map(
        (r) => r.seq,
      );
    return {
      store,
      ingest,
      receiptBodies,
      cache,
      remembered,
      envelope,
      deliver,
      settle,
      storedSeqs,
      readings,
    };
  }

  it("stores what verifies, refuses a forgery as BAD_SIGNATURE, and keeps arrival order within a batch", async () => {
    const pool = new VerifyPool(2);
    const { ingest, receiptBodies, envelope, deliver, settle, storedSeqs } = setup(pool);
    try {
      const good = envelope(MSG_READING, 1, at(1, 100));
      deliver(good);
      deliver({ ...envelope(MSG_READING, 2, at(2, 200)), body: at(2, 5) }); // body changed after signing
      deliver(good); // a resend in the same batch
      deliver({ ...envelope(MSG_READING, 3, at(3, 300)), sig: envelope(MSG_READING, 3, at(3, 301)).sig });
      deliver(envelope(MSG_READING, 4, at(4, 50))); // verifies, but its register runs backwards
      for (let seq = 5; seq < 5 + MIN_THREAD_BATCH; seq++)
        deliver(envelope(MSG_READING, seq, at(seq, seq * 100)));
      assert.deepEqual(storedSeqs(), [], "nothing is committed before the threads answer");
      await settle();
      assert.equal(pool.started, 2, "a batch this size went to the threads");
      assert.equal(ingest.stats.verifiedOnThreads, 5 + MIN_THREAD_BATCH);
      const filler = Array.from({ length: MIN_THREAD_BATCH }, (_, k) => 5 + k);
      assert.deepEqual(storedSeqs(), [1, ...filler]);
      assert.equal(ingest.stats.rejected.BAD_SIGNATURE, 2);
      assert.equal(ingest.stats.rejected.REGISTER_BACKWARDS, 1);
      assert.equal(ingest.stats.duplicates, 1);
      // the resend in the batch of its original is answered by the original's acknowledgement
      assert.deepEqual(
        receiptBodies().flatMap((r) => r.acks),
        [1, ...filler],
      );
      assert.deepEqual(
        receiptBodies().flatMap((r) => r.rejected.map((x) => [x.seq, x.code])),
        [[4, "REGISTER_BACKWARDS"]],
      );
    } finally {
      await ingest.close();
      await pool.close();
    }
  });

  it("hands verdicts on types the ledger checks again to the signature cache, not those on readings", async () => {
    const pool = new VerifyPool(1);
    const { store, ingest, cache, remembered, envelope, deliver, settle } = setup(pool);
    try {
      store.db.exec("CREATE TABLE notes (seq INTEGER)");
      ingest.registerHandler("note", {
        reverified: true,
        parse: (b) => z.object({ text: z.string() }).strict().parse(b),
        store: (db, env) => db.prepare("INSERT INTO notes VALUES (?)").run(env.seq),
      });
      const note = envelope("note", 7, { text: "hello" });
      deliver(note);
      for (let seq = 8; seq < 8 + MIN_THREAD_BATCH; seq++)
        deliver(envelope(MSG_READING, seq, at(seq, seq * 100)));
      await settle();
      assert.equal(pool.started, 1);
      assert.deepEqual(remembered, ["note/7/true"]);
      // the ledger's later check of the same note is a hit of the cache, not a verification
      const misses = cache.misses;
      assert.equal(cache.verify(JSON.parse(JSON.stringify(note)), pki.agents[0].cert.publicKey), true);
      assert.equal(cache.misses, misses);
      assert.ok(envelopeSigningBytes(note).length > 0);
    } finally {
      await ingest.close();
      await pool.close();
    }
  });

  it("loses nothing when the pool dies with a batch in flight: that batch is verified inline", async () => {
    const pool = new VerifyPool(1);
    const { ingest, envelope, deliver, settle, storedSeqs } = setup(pool);
    try {
      deliver({ ...envelope(MSG_READING, 1, at(1, 100)), body: at(1, 101) });
      for (let seq = 2; seq < 2 + MIN_THREAD_BATCH; seq++)
        deliver(envelope(MSG_READING, seq, at(seq, seq * 100)));
      // the batch leaves on the next turn of the event loop, into a pool that is gone
      await pool.close();
      await settle();
      assert.equal(storedSeqs().length, MIN_THREAD_BATCH);
      assert.equal(ingest.stats.rejected.BAD_SIGNATURE, 1);
      // and from then on every envelope is verified inline
      deliver(envelope(MSG_READING, 100, at(100, 10_000)));
      await settle();
      assert.equal(storedSeqs().length, MIN_THREAD_BATCH + 1);
    } finally {
      await ingest.close();
    }
  });

  it("at light load envelopes are verified on the event loop and the threads never start", async () => {
    const pool = new VerifyPool(2);
    const { ingest, envelope, deliver, settle, storedSeqs } = setup(pool);
    try {
      for (let seq = 1; seq <= 30; seq++) {
        deliver(envelope(MSG_READING, seq, at(seq, seq * 10)));
        if (seq === 3) deliver({ ...envelope(MSG_READING, 1000, at(1000, 1)), body: at(1000, 2) });
        await settle();
      }
      assert.equal(storedSeqs().length, 30);
      assert.equal(ingest.stats.rejected.BAD_SIGNATURE, 1);
      assert.equal(pool.started, 0);
      assert.equal(ingest.stats.verifiedOnThreads, 0);
    } finally {
      await ingest.close();
      await pool.close();
    }
  });

  it("close() commits everything received before it and takes nothing after", async () => {
    const pool = new VerifyPool(1);
    const { ingest, envelope, deliver, storedSeqs } = setup(pool);
    try {
      for (let seq = 1; seq <= 40; seq++) deliver(envelope(MSG_READING, seq, at(seq, seq * 10)));
      await ingest.close();
      assert.equal(storedSeqs().length, 40);
      deliver(envelope(MSG_READING, 41, at(41, 410)));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(storedSeqs().length, 40);
    } finally {
      await pool.close();
    }
  });

  it("a reading rolled back with its commit is forgotten: the next one is checked against what is stored", async () => {
    const pool = new VerifyPool(1);
    const { store, ingest, envelope, deliver, settle, storedSeqs } = setup(pool);
    try {
      ingest.registerHandler("boom", {
        parse: (b) => b,
        store: () => {
          throw new Error("disk gone");
        },
      });
      deliver(envelope(MSG_READING, 1, at(1, 100)));
      await settle();
      // a reading at 2000 Wh and, in the same commit, a message whose write fails: both roll back
      deliver(envelope(MSG_READING, 2, at(2, 2000)));
      deliver(envelope("boom", 3, {}));
      await assert.rejects(settle(), /disk gone/);
      assert.deepEqual(storedSeqs(), [1]);
      // 1500 Wh is above the stored 100 Wh: accepted, not refused against the rolled-back 2000 Wh
      deliver(envelope(MSG_READING, 4, at(4, 1500)));
      await settle();
      assert.deepEqual(storedSeqs(), [1, 4]);
      assert.equal(ingest.stats.rejected.REGISTER_BACKWARDS, undefined);
      assert.equal(store.isStored(pki.agents[0].id, 2), false);
    } finally {
      await ingest.close();
      await pool.close();
    }
  });
});
