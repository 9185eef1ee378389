/**
 * The agent's trading shell (agent/participant/participant.ts) over a real SQLite store, with envelopes
 * signed and boxes sealed as the aggregator does: what it sends, what it keeps, how it uses credit, and
 * that a restart neither loses nor repeats a message.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { tradingConfigSchema } from "../agent/participant/config.js";
import { buyCostMc } from "../agent/participant/core.js";
import { isParticipantError } from "../agent/participant/errors.js";
import { Participant } from "../agent/participant/participant.js";
import { readTradingStatus } from "../agent/participant/status.js";
import { AgentStore } from "../agent/store/agent-store.js";
import {
  checkPaymentForSeller,
  sealWalletKey,
  sharedWalletAddress,
  signToken,
} from "../protocol/credit-token.js";
import { boxKeyPairFromSecret, seal } from "../protocol/crypto/box.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { decodeEnvelope, type Envelope, signEnvelope } from "../protocol/envelope.js";
import { type KeyMaterial, newKeyMaterial } from "../protocol/identity.js";
import { createLogger } from "../protocol/log.js";
import { merkleRoot } from "../protocol/merkle.js";
import type { Fill } from "../protocol/messages/trading.js";
import { sampleCreditToken, testCertificate } from "./helpers/fixtures.js";

/** A complete reputation record, as an aggregator's account view carries it. */
const REPUTATION = {
  activity: 1,
  reputation: 1,
  active: 1,
  beta: 0.5,
  delta: 0.5,
  lastDir: 0 as const,
  streak: 0,
  lastActiveMs: null,
};

const terms = { intervalMs: 10_000, depositPct: 10, maxPriceMcPerKwh: 1_000_000 };
const announce = { interval: 101, demandWh: 0, supplyWh: 0, buyers: 0, referencePriceMcPerKwh: 200_000 };

const token = sampleCreditToken;

function setup(dir: string, trading: Record<string, unknown> = {}) {
  const random = (n: number) => new Uint8Array(Buffer.alloc(n, 7));
  const caKey = newKeyMaterial("ca", random);
  const aggKey = newKeyMaterial("agg-1");
  const agentKey = newKeyMaterial("agent-1");
  const cert = (id: string, role: "agent" | "aggregator", k: KeyMaterial, wallets?: string[]) =>
    testCertificate(caKey.seed, id, role, k, wallets);
  const aggCert = cert("agg-1", "aggregator", aggKey);
  const agentCert = cert("agent-1", "agent", agentKey, ["gwwallet0001", "gwwallet0002"]);
  const caCert = cert("ca", "aggregator", caKey);
  let now = 1_000_600;
  const open = () => {
    const store = new AgentStore(join(dir, "agent.db"), "agent-1", () => 1);
    const p = new Participant({
      id: "agent-1",
      identity: { key: agentKey, cert: agentCert, ca: caCert, revocations: undefined },
      aggregator: aggCert,
      store,
      config: tradingConfigSchema.parse({ enabled: true, market: terms, settleDelayMs: 500, ...trading }),
      log: createLogger("test:participant"),
      now: () => now,
      kick: () => undefined,
    });
    return { store, p };
  };
  const down = (type: string, body: unknown, seq: number, ts = now): Envelope =>
    decodeEnvelope(
      Buffer.from(JSON.stringify(signEnvelope({ type, from: "agg-1", seq, ts, body }, aggKey.seed))),
    );
  const sealFor = (v: unknown) =>
    seal(
      Buffer.from(JSON.stringify(v)),
      boxKeyPairFromSecret(agentKey.boxSecret).publicKey,
      boxKeyPairFromSecret(aggKey.boxSecret),
    );
  return {
    open,
    down,
    sealFor,
    aggKey,
    aggCert,
    agentCert,
    setNow: (t: number) => {
      now = t;
    },
  };
}

test("participant: registers, orders, stores fills and views, confirms, and a restart repeats nothing", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir);
  let { store, p } = s.open();
  const reading = (ts: number, importWh: number) => ({ meter: "m1", ts, importWh, exportWh: 0, powerW: 0 });
  store.appendReadings(
    [reading(980_000, 1000), reading(990_000, 1500), reading(1_000_000, 2000)],
    (_r, seq) => ({ type: "reading", payload: JSON.stringify({ reading: seq }) }),
  );
  p.onAnnounce(s.down("market.announce", { ...announce, interval: 101 }, 1));
  p.step();
  const types = () => store.outboxAfter(0, 100).map((r) => r.type);
  assert.deepEqual(types(), ["reading", "reading", "reading", "wallet.register", "wallet.register", "order"]);
  const order = JSON.parse(store.outboxAfter(0, 100)[5].payload);
  assert.equal(order.body.side, "buy");
  assert.equal(order.body.interval, 101);
  assert.equal(order.body.energyWh, 500);
  p.step();
  assert.equal(types().length, 6, "a second step in the same interval sends nothing new");

  // the aggregator's view, a fill and a refusal
  const fill: Fill = {
    tradeId: "tr-1",
    orderId: "o-1",
    side: "buy",
    interval: 101,
    energyWh: 400,
    priceMcPerKwh: 200_000,
    paymentMc: 80_000,
    depositMc: 8000,
  };
  p.onDown(s.down("fill", s.sealFor(fill), 2));
  p.onDown(s.down("fill", s.sealFor(fill), 3));
  p.onDown(
    s.down(
      "account.view",
      s.sealFor({
        agent: "agent-1",
        wallets: [{ address: "gwwallet0001", balanceMc: 20_000, frozenMc: 0, availableMc: 20_000 }],
        openOrders: [],
        openTrades: [],
        reputation: REPUTATION,
        blacklisted: false,
      }),
      4,
    ),
  );
  p.onDown(s.down("tx.result", { txId: "agent-1:5", ok: false, code: "INSUFFICIENT_FUNDS" }, 5));
  p.onDown(s.down("fill", { from: "0".repeat(64), nonce: "0".repeat(48), ct: "AAAA" }, 6));
  assert.equal(p.counters.fills, 1, "a fill sent twice is stored once");
  assert.equal(p.counters.views, 1);
  assert.equal(p.counters.rejected, 1);
  assert.equal(p.counters.badDown, 1, "a fill that does not open is refused");
  assert.equal(p.state.view()?.view.wallets[0].availableMc, 20_000);

  // interval 101 passes with 300 Wh imported: summary and a confirmation of 300 of the 400 Wh bought
  store.appendReadings([reading(1_010_000, 2000), reading(1_020_000, 2300)], (_r, seq) => ({
    type: "reading",
    payload: JSON.stringify({ reading: seq }),
  }));
  // a summary waits for its readings' receipts: it must match what the aggregator stored
  s.setNow(1_020_600);
  p.step();
  assert.ok(!types().includes("meter.summary"), "no summary while readings await their receipt");
  const readingSeqs = store
    .outboxAfter(0, 100)
    .filter((r) => r.type === "reading")
    .map((r) => r.seq);
  store.acknowledge(readingSeqs, 1_020_600);
  store.recordReadingReceipts(readingSeqs, "agg-1");
  p.step();
  const sent = store
    .outboxAfter(0, 100)
    .filter((r) => r.type !== "reading")
    .map((r) => JSON.parse(r.payload));
  const confirm = sent.filter((e) => e.type === "delivery.confirm");
  assert.deepEqual(
    confirm.map((e) => e.body),
    [{ tradeId: "tr-1", receivedWh: 300 }],
  );
  const summaries = sent.filter((e) => e.type === "meter.summary").map((e) => e.body);
  // the summary commits to the signed readings at the interval's edges and to all in between
  assert.deepEqual(
    summaries.find((b) => b.interval === 101),
    {
      interval: 101,
      importWh: 300,
      exportWh: 0,
      readings: 2,
      meters: [
        {
          meter: "m1",
          count: 2,
          root: merkleRoot([{ reading: 7 }, { reading: 8 }]),
          first: { seq: 7, ts: 1_010_000, importWh: 2000, exportWh: 0 },
          last: { seq: 8, ts: 1_020_000, importWh: 2300, exportWh: 0 },
        },
      ],
    },
  );
  const before = store.outboxAfter(0, 1000).length;
  // all sequence numbers distinct and increasing, readings and trading on one counter
  const seqs = store.outboxAfter(0, 1000).map((r) => r.seq);
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.equal(new Set(seqs).size, seqs.length);

  // what `gridlet agent status` reads, from the file while the agent has it open
  const st = readTradingStatus(join(dir, "agent.db"));
  assert.equal(st?.balanceMc, 20_000);
  assert.equal(st?.fills.length, 1);
  assert.equal(st?.ordersSent, 2, "interval 101, then 103");
  assert.equal(st?.confirmationsSent, 1);
  assert.deepEqual(st?.refusals, [{ txId: "agent-1:5", code: "INSUFFICIENT_FUNDS", message: null }]);
  // a restart (the store closed without any goodbye, as after kill -9) repeats nothing
  store.close();
  ({ store, p } = s.open());
  p.step();
  assert.equal(store.outboxAfter(0, 1000).length, before);
  assert.equal(p.state.fills().length, 1);
  store.close();
});

test("participant credit: a shortfall asks the bank, the grant's key signs a payment the payee accepts, the debt is repaid", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-credit-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir, { credit: { enabled: true } });
  const { store, p } = s.open();
  const reading = (ts: number, importWh: number) => ({ meter: "m1", ts, importWh, exportWh: 0, powerW: 0 });
  store.appendReadings([reading(990_000, 0), reading(1_000_000, 10_000)], (_r, seq) => ({
    type: "reading",
    payload: JSON.stringify({ reading: seq }),
  }));
  p.onAnnounce(s.down("market.announce", announce, 1));
  const view = (availableMc: number) =>
    s.sealFor({
      agent: "agent-1",
      wallets: [{ address: "gwwallet0001", balanceMc: availableMc, frozenMc: 0, availableMc }],
      openOrders: [],
      openTrades: [],
      reputation: REPUTATION,
      blacklisted: false,
    });
  p.onDown(s.down("account.view", view(1000), 2));
  p.step();
  const sent = () =>
    store
      .outboxAfter(0, 1000)
      .filter((r) => r.type !== "reading")
      .map((r) => JSON.parse(r.payload));
  const request = sent().find((e) => e.type === "credit.request");
  assert.ok(request, "a buyer short of funds asks for credit");
  assert.equal(request.body.bank, "agg-1");
  assert.equal(request.body.boxKey, s.agentCert.boxKey);
  const order = sent().find((e) => e.type === "order");
  assert.ok(buyCostMc(order.body) <= 1000, "the order it places meanwhile is one it can pay");
  p.step();
  assert.equal(sent().filter((e) => e.type === "credit.request").length, 1, "asked once");

  // the bank's grant: a shared wallet whose key is sealed to the agent, and the signed token
  const walletSeed = new Uint8Array(32).fill(9);
  const sharedWallet = sharedWalletAddress(defaultEd25519.publicKey(walletSeed));
  const loanId = "e".repeat(64);
  const bankBox = boxKeyPairFromSecret(s.aggKey.boxSecret);
  const keyDelivery = sealWalletKey(loanId, walletSeed, sharedWallet, s.agentCert.boxKey, bankBox, (n) =>
    new Uint8Array(n).fill(3),
  );
  const { sig: _unused, ...fields } = {
    ...token,
    loanId,
    bank: "agg-1",
    sharedWallet,
    validUntil: 9e12,
    sig: "",
  };
  const signed = { ...fields, sig: signToken(fields, s.aggKey.seed) };
  // a key sealed by anyone but the bank is refused, and the loan keeps waiting
  const forger = boxKeyPairFromSecret(new Uint8Array(32).fill(5));
  const forged = sealWalletKey(loanId, walletSeed, sharedWallet, s.agentCert.boxKey, forger, (n) =>
    new Uint8Array(n).fill(4),
  );
  p.onDown(
    s.down(
      "credit.grant",
      { loanId, sharedWallet, keyDelivery: forged, tokenSig: signed.sig, token: signed },
      3,
    ),
  );
  assert.equal(p.counters.badDown, 1);
  assert.equal(p.state.loan()?.status, "requested");
  p.onDown(
    s.down("credit.grant", { loanId, sharedWallet, keyDelivery, tokenSig: signed.sig, token: signed }, 3),
  );
  assert.equal(p.state.loan()?.status, "granted");
  p.step();
  const bill = sent().find((e) => e.type === "credit.bill");
  assert.ok(bill, "the token is spent with a bill");
  assert.equal(bill.body.seller, "agent-1");
  checkPaymentForSeller(bill.body.token, bill.body.payment, {
    bankPublicKey: s.aggCert.publicKey,
    sellerWallet: "gwwallet0001",
    now: 1_000_000,
  });
  assert.equal(bill.body.payment.amount, signed.balance);
  p.step();
  assert.equal(sent().filter((e) => e.type === "credit.bill").length, 1, "spent once");

  // repaid once the wallet covers principal and interest, and the result closes the loan
  p.onDown(s.down("account.view", view(50_599), 4));
  p.step();
  assert.equal(sent().filter((e) => e.type === "credit.repay").length, 0);
  p.onDown(s.down("account.view", view(50_600), 5));
  p.step();
  const repay = sent().filter((e) => e.type === "credit.repay");
  assert.deepEqual(
    repay.map((e) => e.body),
    [{ loanId, fromWallet: "gwwallet0001" }],
  );
  p.onDown(s.down("tx.result", { txId: `agent-1:${repay[0].seq}`, ok: true }, 6));
  assert.equal(p.state.loan()?.status, "closed");

  // a grant for a loan it is not waiting for is refused
  const before = p.counters.badDown;
  p.onDown(
    s.down("credit.grant", { loanId: "f".repeat(64), sharedWallet, keyDelivery, tokenSig: signed.sig }, 7),
  );
  assert.equal(p.counters.badDown, before + 1);
  store.close();
});

test("status: a store without trading tables has no trading part", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-status-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  new AgentStore(join(dir, "plain.db"), "agent-1", () => 1).close();
  assert.equal(readTradingStatus(join(dir, "plain.db")), null);
  assert.throws(
    () => readTradingStatus(join(dir, "missing.db")),
    (e: unknown) => isParticipantError(e, "STATUS_UNAVAILABLE"),
  );
});

test("participant credit: a refused request is logged with its code and closes the loan", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-credit2-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir, { credit: { enabled: true, amountMc: 5000 } });
  const { store, p } = s.open();
  store.appendReadings(
    [
      { meter: "m1", ts: 990_000, importWh: 0, exportWh: 0, powerW: 0 },
      { meter: "m1", ts: 1_000_000, importWh: 10_000, exportWh: 0, powerW: 0 },
    ],
    (_r, seq) => ({ type: "reading", payload: JSON.stringify({ reading: seq }) }),
  );
  p.onAnnounce(s.down("market.announce", announce, 1));
  p.onDown(
    s.down(
      "account.view",
      s.sealFor({
        agent: "agent-1",
        wallets: [{ address: "gwwallet0001", balanceMc: 0, frozenMc: 0, availableMc: 0 }],
        openOrders: [],
        openTrades: [],
        reputation: REPUTATION,
        blacklisted: false,
      }),
      2,
    ),
  );
  p.step();
  const req = store.outboxAfter(0, 100).find((r) => r.type === "credit.request");
  assert.equal(JSON.parse(req!.payload).body.amount, 5000);
  p.onDown(s.down("tx.result", { txId: `agent-1:${req!.seq}`, ok: false, code: "NO_REGULAR_INCOME" }, 3));
  assert.equal(p.state.loan()?.status, "closed");
  assert.equal(p.counters.rejected, 1);
  store.close();
});

test("participant: an older view never replaces a newer one; a blacklisted agent stops ordering; an interval the meter missed gets no summary and a late full confirmation", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-guards-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir);
  const { store, p } = s.open();
  const view = (availableMc: number, blacklisted: boolean) =>
    s.sealFor({
      agent: "agent-1",
      wallets: [{ address: "gwwallet0001", balanceMc: availableMc, frozenMc: 0, availableMc }],
      openOrders: [],
      openTrades: [],
      reputation: REPUTATION,
      blacklisted,
    });
  p.onDown(s.down("account.view", view(500, true), 2, 1_000_500));
  p.onDown(s.down("account.view", view(900, false), 1, 1_000_400));
  assert.equal(p.state.view()?.view.wallets[0].availableMc, 500);
  store.appendReadings(
    [
      { meter: "m1", ts: 990_000, importWh: 0, exportWh: 0, powerW: 0 },
      { meter: "m1", ts: 1_000_000, importWh: 800, exportWh: 0, powerW: 0 },
    ],
    (_r, seq) => ({ type: "reading", payload: JSON.stringify({ reading: seq }) }),
  );
  const readingSeqs = store
    .outboxAfter(0, 100)
    .filter((r) => r.type === "reading")
    .map((r) => r.seq);
  store.acknowledge(readingSeqs, 1_000_400);
  store.recordReadingReceipts(readingSeqs, "agg-1");
  p.onAnnounce(s.down("market.announce", announce, 3));
  p.step();
  const types = () => store.outboxAfter(0, 100).map((r) => r.type);
  assert.ok(!types().includes("order"), "blacklisted: no order");
  // a buy fill for interval 100, which the meter did not see (no reading inside it): no summary, and the
  // confirmation waits one interval for late readings, then confirms in full
  const fill: Fill = {
    tradeId: "tr-9",
    orderId: "o-9",
    side: "buy",
    interval: 100,
    energyWh: 100,
    priceMcPerKwh: 1,
    paymentMc: 0,
    depositMc: 0,
  };
  p.onDown(s.down("fill", s.sealFor(fill), 4));
  s.setNow(1_015_000);
  p.step();
  assert.ok(!types().includes("delivery.confirm"));
  s.setNow(1_020_500);
  p.step();
  const confirm = store.outboxAfter(0, 100).find((r) => r.type === "delivery.confirm");
  assert.deepEqual(JSON.parse(confirm!.payload).body, { tradeId: "tr-9", receivedWh: 100 });
  const summaries = store.outboxAfter(0, 100).filter((r) => r.type === "meter.summary");
  assert.ok(!summaries.some((r) => JSON.parse(r.payload).body.interval === 100));
  store.close();
});

test("participant: a summary is proven where it is sent; after a fail-over the readings go there first", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-evidence-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir);
  const { store, p } = s.open();
  const reading = (ts: number, importWh: number) => ({ meter: "m1", ts, importWh, exportWh: 0, powerW: 0 });
  const rows = store.appendReadings(
    [reading(1_000_000, 100), reading(1_005_000, 150), reading(1_010_000, 200)],
    (_r, seq) => ({ type: "reading", payload: JSON.stringify({ reading: seq }) }),
  );
  const seqs = rows.map((r) => r.seq);
  // the home receipted them; the link then fails over to agg-2 before interval 100 is summarised
  store.acknowledge(seqs, 1_010_100);
  store.recordReadingReceipts(seqs, "agg-1");
  p.onSwitch("agg-2");
  s.setNow(1_010_600);
  p.step();
  const out = () =>
    store.outboxAfter(0, 100).filter((r) => r.type === "reading" || r.type === "meter.summary");
  assert.deepEqual(
    out().map((r) => [r.seq, r.type]),
    seqs.map((q) => [q, "reading"]),
    "the readings are queued again under their own numbers, and no summary yet",
  );
  assert.deepEqual(
    out().map((r) => r.payload),
    rows.map((r) => r.payload),
    "the same signed envelopes",
  );
  // agg-2 receipts them: the summary follows, proven by them
  store.acknowledge(seqs, 1_010_700);
  store.recordReadingReceipts(seqs, "agg-2");
  p.step();
  const summary = out().find((r) => r.type === "meter.summary");
  assert.ok(summary, "summary sent once agg-2 holds the readings");
  const body = JSON.parse(summary.payload).body;
  assert.equal(body.importWh, 100);
  assert.equal(body.meters[0].root, merkleRoot(seqs.map((q) => ({ reading: q }))));
  // a switch back while that summary awaits its receipt: agg-1 already holds the readings, nothing to do
  p.onSwitch("agg-1");
  assert.equal(out().filter((r) => r.type === "reading").length, 0);
  // to a third aggregator: the readings go again, ahead of the summary still in flight
  p.onSwitch("agg-3");
  const again = out();
  assert.deepEqual(
    again.map((r) => r.type),
    ["reading", "reading", "reading", "meter.summary"],
  );
  store.close();
});

test("participant: after a signed meter replacement a summary counts the new meter's registers only", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-trading-replace-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = setup(dir);
  const { store, p } = s.open();
  const reading = (ts: number, importWh: number) => ({ meter: "m1", ts, importWh, exportWh: 0, powerW: 0 });
  const sign = (r: unknown, seq: number) => ({
    type: "reading",
    payload: JSON.stringify({ reading: seq, r }),
  });
  const old = store.appendReadings([reading(1_000_000, 5_000)], sign);
  const rep = store.replaceMeter("m1", 1_005_000, "swapped", (body, seq) => ({
    type: "meter.replace",
    payload: JSON.stringify({ seq, body }),
  }));
  const fresh = store.appendReadings([reading(1_005_000, 0), reading(1_010_000, 40)], sign);
  assert.deepEqual([...store.meterReplacements()], [["m1", [1_005_000]]]);
  assert.ok(
    rep > old[0].seq && rep < fresh[0].seq,
    "the replacement goes out between the two meters' readings",
  );
  const seqs = [...old, ...fresh].map((r) => r.seq);
  store.acknowledge([...seqs, rep], 1_010_100);
  store.recordReadingReceipts(seqs, "agg-1");
  s.setNow(1_010_600);
  p.step();
  const summary = store.outboxAfter(0, 100).find((r) => r.type === "meter.summary");
  const body = JSON.parse(summary!.payload).body;
  assert.equal(body.importWh, 40, "not 0 − 5000: the old meter's registers do not count");
  assert.deepEqual(
    [body.meters[0].first.seq, body.meters[0].last.seq],
    fresh.map((r) => r.seq),
  );
  store.close();
});
