import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makePki } from "../../bench/harness/pki.js";
import { tempDir } from "../../bench/harness/tmp.js";
import { type Envelope, encodeEnvelope, signEnvelope } from "../../protocol/envelope.js";
import { TrustStore } from "../../protocol/identity.js";
import { createLogger } from "../../protocol/log.js";
import type { ReceiptBody } from "../../protocol/messages/readings.js";
import { MSG_CANCEL_ORDER } from "../../protocol/messages/trading.js";
import { topics } from "../../protocol/topics.js";
import { Ingest } from "../ingest/ingest.js";
import { ReceiptBatcher } from "../ingest/receipts.js";
import { AggregatorStore } from "../ingest/store.js";
import { registerLedgerHandlers } from "./handlers.js";
import { LedgerOutbox } from "./outbox.js";
import { TxQuota } from "./tx-quota.js";

describe("ledger transaction quota", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("counts per sender and market interval, on the aggregator's clock", () => {
    const q = new TxQuota(2, 1000);
    assert.equal(q.admit("a", 0), undefined);
    assert.equal(q.admit("a", 999), undefined);
    assert.equal(q.admit("a", 999)?.code, "TX_QUOTA");
    assert.equal(q.admit("b", 999), undefined, "each sender has its own");
    assert.equal(q.admit("a", 1000), undefined, "a new interval, a new quota");
  });

  it("3000 schema-valid junk transactions: the quota is stored, the rest refused with receipts, one log line", async () => {
    const pki = makePki(tmp.dir, "agg-1", ["junk"]);
    const store = new AggregatorStore(join(tmp.dir, "agg.sqlite"), "agg-1", () => 1);
    const outbox = new LedgerOutbox(store.db);
    const trust = new TrustStore(pki.ca.caCertificate(), { now: Date.now });
    trust.add(pki.agents[0].cert);
    const receipts: Envelope<ReceiptBody>[] = [];
    const batcher = new ReceiptBatcher({
      aggregatorId: "agg-1",
      seed: pki.aggregator.key.seed,
      nextSeq: () => store.allocateSeq(),
      now: Date.now,
      delayMs: 0,
      maxPerReceipt: 10_000,
      sender: { send: (_t, payload) => receipts.push(JSON.parse(payload.toString())) },
    });
    const lines: string[] = [];
    const ingest = new Ingest({
      store,
      directory: trust,
      receipts: batcher,
      now: Date.now,
      maxFutureMs: 60_000,
      log: createLogger("test", { level: "info", sink: { write: (l) => lines.push(l) } }),
    });
    const quota = new TxQuota(64, 3_600_000);
    const now = 1_800_000; // the middle of an interval, so the test cannot straddle two
    let accepted = 0;
    registerLedgerHandlers(
      ingest,
      outbox,
      () => accepted++,
      (env) => (store.isStored(env.from, env.seq) ? undefined : quota.admit(env.from, now)),
    );
    const a = pki.agents[0];
    const tx = (seq: number) =>
      encodeEnvelope(
        signEnvelope(
          { type: MSG_CANCEL_ORDER, from: a.id, seq, ts: Date.now(), body: { orderId: `junk-${seq}` } },
          a.key.seed,
        ),
      );
    const sent = new Map<number, Buffer>();
    for (let seq = 1; seq <= 3000; seq++) {
      sent.set(seq, tx(seq));
      ingest.receive(topics.agentUp(a.id), sent.get(seq)!);
      if (seq === 10) ingest.flush();
    }
    // a resend of a stored one is receipted again, not counted against the quota
    ingest.receive(topics.agentUp(a.id), sent.get(5)!);
    ingest.flush();
    batcher.flush();
    assert.equal(outbox.size(), 64);
    assert.equal(ingest.stats.rejected.TX_QUOTA, 3000 - 64);
    const rejected = receipts.flatMap((r) => r.body.rejected);
    assert.equal(rejected.length, 3000 - 64);
    assert.ok(rejected.every((r) => r.code === "TX_QUOTA" && r.seq > 64));
    assert.equal(lines.filter((l) => l.includes("code=TX_QUOTA")).length, 1, lines.join("\n"));
    await new Promise((r) => setImmediate(r));
    assert.equal(accepted, 64);
    store.close();
  });
});
