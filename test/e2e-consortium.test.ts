import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import {
  ledgerHeight,
  ledgerTxs,
  makeProcessConsortium,
  RawAgent,
  reexecute,
} from "../bench/harness/process-consortium.js";
import { type Proc, runGridlet, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { fromHex } from "../protocol/bytes.js";
import { openWalletKey, signPayment } from "../protocol/credit-token.js";
import { boxKeyPairFromSecret } from "../protocol/crypto/box.js";
import { readCertificateFile } from "../protocol/keyfile.js";

/**
 * Four `gridlet aggregator` processes, each with its embedded broker on a loopback port and its SQLite
 * block store, run the replicated ledger together over MQTT. Agents (raw MQTT clients signing their own
 * envelopes) log in at different aggregators; their orders clear and settle, and every ledger file
 * verifies and re-executes to one state hash.
 */
const INTERVAL = 2000;
const tmp = tempDir();
after(() => tmp.cleanup());

test("four aggregator processes: agents at different homes trade, clear and settle on one ledger", {
  timeout: 120_000,
}, async () => {
  const k = await makeProcessConsortium(tmp.dir, {
    n: 4,
    trading: { intervalMs: INTERVAL, confirmWindowMs: 2 * INTERVAL },
    credit: { eligibility: { incomePeriodDays: 1, incomePeriods: 1, minIncomePeriods: 1 } },
  });
  const procs: Proc[] = k.configs.map((c) => spawnGridlet(["aggregator", "--config", c]));
  const alice = new RawAgent(k.ca, "alice", "eag2", tmp.dir);
  const sam = new RawAgent(k.ca, "sam", "eag1", tmp.dir);
  const url = (i: number) => k.urls[i];
  try {
    await Promise.all(procs.map((p) => p.waitForOutput(/ledger started/, 30_000)));
    await alice.connect(url(2), "eag2");
    await sam.connect(url(1), "eag1");
    await waitFor(
      "identities registered on login, before any ledger envelope",
      () =>
        ["alice", "sam"].every((id) =>
          ledgerTxs(k.ledgerDbs[0]).some(
            (tx) => tx.type === "identity.register" && (tx.body as { id?: string }).id === id,
          ),
        ),
      20_000,
    );

    // first login and wallet registration: the home registers the identity, then allocates
    const regA = alice.send("wallet.register", { wallet: alice.wallet });
    const regS = sam.send("wallet.register", { wallet: sam.wallet });
    await waitFor(
      "wallet registrations committed",
      () => alice.results.has(regA) && sam.results.has(regS),
      30_000,
    );
    assert.deepEqual(alice.results.get(regA), { txId: regA, ok: true });
    assert.deepEqual(sam.results.get(regS), { txId: regS, ok: true });
    await waitFor("allocations in the account views", () =>
      [alice, sam].every((a) => a.lastView?.wallets[0]?.balanceMc === 20_000),
    );
    assert.equal(alice.unreceipted.size + sam.unreceipted.size, 0, "every envelope receipted");

    // sam metered export, then an offer; alice bids, at another aggregator
    const cur = Math.floor(Date.now() / INTERVAL);
    sam.meters.interval(cur - 1, INTERVAL, 0, 5_000);
    sam.send("meter.summary", sam.meters.summary(cur - 1, INTERVAL));
    const I = Math.floor((Date.now() + 3000) / INTERVAL) + 1; // 3 s at least to commit both orders
    const sell = sam.order("sell", I, 1_000, 200);
    const buy = alice.order("buy", I, 1_000, 300);
    await waitFor("both orders committed", () => alice.results.has(buy) && sam.results.has(sell), 20_000);
    assert.equal(alice.results.get(buy)?.ok, true, JSON.stringify(alice.results.get(buy)));
    assert.equal(sam.results.get(sell)?.ok, true, JSON.stringify(sam.results.get(sell)));

    // clearing at the start of interval I: each side gets its fill, sealed to it
    await waitFor("fills", () => alice.fills.length > 0 && sam.fills.length > 0, 30_000);
    const fa = alice.fills[0];
    const fs = sam.fills[0];
    assert.equal(fa.tradeId, fs.tradeId);
    assert.equal(fa.side, "buy");
    assert.equal(fs.side, "sell");
    assert.equal(fa.priceMcPerKwh, 250, "uniform price: midpoint of 300 and 200");
    const ann = alice.announcements as { interval: number; demandWh: number }[];
    assert.ok(
      ann.some((a) => a.interval === I && a.demandWh === 1_000),
      `interval I announced with alice's demand: ${JSON.stringify(ann)}`,
    );

    // after the interval: metered delivery and the buyer's confirmation; settlement after the window
    await waitFor("interval I over", () => Date.now() >= (I + 1) * INTERVAL + 50, 20_000);
    sam.meters.interval(I, INTERVAL, 0, 1_000);
    sam.send("meter.summary", sam.meters.summary(I, INTERVAL));
    alice.meters.interval(I, INTERVAL, 1_000, 0);
    alice.send("meter.summary", alice.meters.summary(I, INTERVAL));
    const conf = alice.send("delivery.confirm", { tradeId: fa.tradeId, receivedWh: 1_000 });
    await waitFor("confirmation committed", () => alice.results.has(conf), 20_000);
    assert.equal(alice.results.get(conf)?.ok, true, JSON.stringify(alice.results.get(conf)));
    await waitFor(
      "settlement in the account views",
      () =>
        sam.lastView?.wallets[0]?.balanceMc === 20_250 && alice.lastView?.wallets[0]?.balanceMc === 19_750,
      30_000,
    );
    assert.equal(sam.lastView?.openTrades.length, 0);
    assert.deepEqual([...alice.downFrom], ["eag2"], "alice hears only from her home");
    assert.deepEqual([...sam.downFrom], ["eag1"]);

    // credit: sam (income from his sale) borrows from eag0's bank; the grant reaches him through eag1
    const req = sam.send("credit.request", {
      bank: "eag0",
      cert: sam.cert.serial,
      wallets: [sam.wallet],
      credit: 2_000,
      amount: 5_000,
      boxKey: sam.cert.boxKey,
      demand: { qMinWh: 1_000_000, priceMcPerKwh: 1000 },
    });
    await waitFor("the grant at sam", () => sam.grants.length > 0, 30_000);
    assert.equal(sam.results.get(req)?.ok, true, JSON.stringify(sam.results.get(req)));
    const grant = sam.grants[0];
    assert.ok(grant.token !== undefined, "the grant carries the signed token");
    const bankBox = fromHex(readCertificateFile(join(tmp.dir, "identities", "eag0.cert.json")).boxKey)!;
    const walletSeed = openWalletKey(grant.keyDelivery, boxKeyPairFromSecret(sam.key.boxSecret), {
      loanId: grant.loanId,
      sharedWallet: grant.sharedWallet,
      bankBoxKey: bankBox,
    });
    // sam pays alice with the token; alice bills at her home eag2, which forwards the bill to the bank
    const payment = signPayment(
      { loanId: grant.loanId, paymentId: "p1", sellerWallet: alice.wallet, amount: 1_000, ts: Date.now() },
      walletSeed,
    );
    alice.send("credit.bill", { seller: "alice", payment, token: grant.token });
    await waitFor(
      "the bank paid alice's bill",
      () => alice.lastView?.wallets[0]?.balanceMc === 20_750,
      30_000,
    );
    const repay = sam.send("credit.repay", { loanId: grant.loanId, fromWallet: sam.wallet });
    await waitFor("repaid", () => sam.results.has(repay), 20_000);
    assert.equal(sam.results.get(repay)?.ok, true, JSON.stringify(sam.results.get(repay)));

    // the ledgers: all four verify and re-execute to one state hash at their common height
    await alice.close();
    await sam.close();
    const codes = await Promise.all(procs.map((p) => p.stop()));
    for (const [i, code] of codes.entries()) assert.equal(code, 0, procs[i].output());
    const heights = k.ledgerDbs.map((f) => ledgerHeight(f));
    const common = Math.min(...heights);
    assert.ok(common > 5, `blocks committed: ${heights}`);
    const hashes = k.ledgerDbs.map((f) => reexecute(f, k.genesisFile, common).stateHash);
    assert.equal(new Set(hashes).size, 1, `one state hash at height ${common}: ${hashes}`);
    const verified = await Promise.all(
      k.ledgerDbs.map((f) =>
        runGridlet(["ledger", "verify", "--db", f, "--genesis", k.genesisFile, "--json"]),
      ),
    );
    for (const r of verified) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).ok, true);
    }
    // the bank kept the shared wallet's seed, the one sealed to sam
    const bankDb = new Database(join(tmp.dir, "eag0.sqlite"), { readonly: true });
    const kept = bankDb.prepare("SELECT seed FROM bank_wallet_seeds WHERE loan_id = ?").get(grant.loanId) as
      | { seed: string }
      | undefined;
    bankDb.close();
    assert.equal(kept?.seed, Buffer.from(walletSeed).toString("hex"));

    // every envelope the agents sent is in the ledger, accepted exactly once
    const { results } = reexecute(k.ledgerDbs[0], k.genesisFile, common);
    for (const a of [alice, sam])
      for (const env of a.sent.filter((e) => e.type !== "credit.bill" && e.type !== "reading")) {
        const mine = results.filter((r) => {
          const tx = r.tx as { from?: string; seq?: number };
          return tx.from === env.from && tx.seq === env.seq;
        });
        assert.equal(mine.filter((r) => r.ok).length, 1, `${env.from}:${env.seq} (${env.type}) applied once`);
      }
  } catch (e) {
    // the processes' last words explain most failures
    for (const [i, p] of procs.entries())
      (e as Error).message += `\n--- eag${i}:\n${p.output().split("\n").slice(-20).join("\n")}`;
    throw e;
  } finally {
    await alice.close();
    await sam.close();
    await Promise.all(procs.map((p) => p.stop()));
  }
});
