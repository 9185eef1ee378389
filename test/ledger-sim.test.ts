/**
 * Trading and credit scenarios of the consortium's ledger on the deterministic simulator: four replicas
 * executing the real LedgerMachine on simulated time over a seeded lossy network, with an aggregator
 * killed and restarted (from its files or from nothing) while its agent trades, the agent failing over
 * to another aggregator, and the killed one submitting its outbox after the restart. What the process
 * tests (e2e-consortium*, agent-failover) showed of the ledger is asserted here, for many seeds, in a
 * fraction of the time: clearing at one price, settlement after the confirmation window, a loan granted,
 * spent and repaid, every agent envelope decided exactly once, and every replica and every auditor
 * re-execution at one state hash.
 *
 * A failure names its seed; GRIDLET_SIM_SEED=N runs that seed alone, GRIDLET_SIM_SCALE=10 ten times the
 * seeds.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { TradingState } from "../aggregator/state/types.js";
import { BANK_FUNDS_MC, type TestAgent } from "../bench/harness/node-consortium.js";
import { tempDir } from "../bench/harness/tmp.js";
import { openWalletKey, signPayment } from "../protocol/credit-token.js";
import { boxKeyPairFromSecret } from "../protocol/crypto/box.js";
import type { Envelope } from "../protocol/envelope.js";
import { LedgerSim, type Verdict } from "./kits/ledger-sim.js";

const INTERVAL = 10_000;

/** Signed readings over the interval (kept by the agent: no ingest here) and the summary they prove. */
function metered(a: TestAgent, interval: number, importWh: number, exportWh: number) {
  a.meters.interval(interval, INTERVAL, importWh, exportWh);
  return a.meters.summary(interval, INTERVAL);
}
const SCALE = Math.max(1, Number(process.env.GRIDLET_SIM_SCALE ?? 1) || 1);
const ONLY = process.env.GRIDLET_SIM_SEED === undefined ? undefined : Number(process.env.GRIDLET_SIM_SEED);

const tmp = tempDir("gridlet-ledger-sim-");
after(() => tmp.cleanup());
// a scenario keeps every replica's blocks in memory: it must stay far below 1 GB (about 0.1 GB today)
after(() => {
  const rss = process.memoryUsage().rss;
  assert.ok(rss < 512 * 1024 * 1024, `resident memory ${Math.round(rss / 1048576)} MB`);
});

/** Runs `scenario` for each seed; a failure says which seed, so that it can be replayed alone. */
function seeds(count: number, first: number, scenario: (seed: number) => void): void {
  const list = ONLY !== undefined ? [ONLY] : Array.from({ length: count * SCALE }, (_, i) => first + i);
  for (const seed of list) {
    try {
      scenario(seed);
    } catch (e) {
      if (e instanceof Error && !e.message.includes(`seed ${seed}`))
        e.message = `seed ${seed} (rerun with GRIDLET_SIM_SEED=${seed}): ${e.message}`;
      throw e;
    }
  }
}

function conserved(s: TradingState): void {
  let sum = 0;
  for (const w of s.wallets.values()) {
    assert.ok(w.frozen >= 0 && w.frozen <= w.balance, `wallet ${w.address} frozen within balance`);
    sum += w.balance;
  }
  assert.equal(sum, s.supply, "Σ balance = supply");
}

/** The verdicts of one agent envelope other than REPLAY refusals of its copies. */
function decisions(verdicts: Verdict[], env: Envelope): Verdict[] {
  return verdicts.filter((v) => v.tx.from === env.from && v.tx.seq === env.seq && v.code !== "REPLAY");
}

/**
 * Every replica at one height and state hash; each auditor re-execution reproduces it; every envelope
 * an agent sent was decided exactly once, with the verdict `expectOk` gives it.
 */
function audit(k: LedgerSim, sent: Envelope[], expectOk: (env: Envelope) => boolean): void {
  k.until(
    "every replica at one height and state hash",
    () => {
      const ids = k.ids;
      const h = ids.map((id) => k.height(id));
      const s = ids.map((id) => k.machine(id).stateHash());
      return h.every((x) => x === h[0]) && s.every((x) => x === s[0]);
    },
    60_000,
  );
  for (const id of k.ids) {
    const { stateHash, verdicts } = k.reexecute(id);
    assert.equal(stateHash, k.machine(id).stateHash(), `${id}: re-executing its blocks gives its state`);
    for (const env of sent) {
      const d = decisions(verdicts, env);
      assert.equal(
        d.length,
        1,
        `${env.from}:${env.seq} (${env.type}) decided once at ${id}: ${JSON.stringify(d)}`,
      );
      assert.equal(d[0].ok, expectOk(env), `${env.from}:${env.seq} (${env.type}): ${d[0].code ?? "ok"}`);
    }
    conserved(k.state(id));
  }
}

test("trading across homes while the seller's home is killed -9 and restarted: clearing, settlement, credit; 12 seeds", () => {
  seeds(12, 1, (seed) => {
    const k = new LedgerSim({
      seed,
      dir: `${tmp.dir}/trade-${seed}`,
      // a lossy, duplicating, reordering network
      net: { drop: 0.05, duplicate: 0.05, minDelayMs: 1, maxDelayMs: 30 },
      trading: { intervalMs: INTERVAL, confirmWindowMs: 2 * INTERVAL },
      credit: { eligibility: { incomePeriodDays: 1, incomePeriods: 1, minIncomePeriods: 1 } },
    });
    const rng = k.sim.rng;
    const alice = k.agent("alice", "eag2");
    const sam = k.agent("sam", "eag1");
    const dave = k.agent("dave", "eag3");
    const agents = [alice, sam, dave];
    const sent: Envelope[] = [];
    const send = (a: typeof alice, type: string, body: unknown, via?: string) => {
      const env = k.send(a, type, body, via);
      sent.push(env);
      return env;
    };

    // logins: each home registers its agent's identity; the first wallet brings the allocation
    for (const a of agents) k.login(a);
    k.until("identities registered", () => agents.every((a) => k.machine("eag0").registry.agent(a.id)));
    for (const a of agents) send(a, "wallet.register", { wallet: a.wallet });
    k.until("allocations everywhere", () =>
      k.ids.every((id) => agents.every((a) => k.state(id).wallets.get(a.wallet)?.balance === 20_000)),
    );

    // metered export, then offers from sam and dave and alice's bid for interval I
    const cur = Math.floor(k.now / INTERVAL);
    const I = cur + 2;
    for (const a of [sam, dave]) send(a, "meter.summary", metered(a, cur - 1, 0, 5_000));
    const samSell = k.order(sam, "sell", I, 1_000, 200);
    const buy = k.order(alice, "buy", I, 2_000, 300);
    sent.push(samSell, buy);
    k.run(rng.int(0, 300));
    // dave offers at his home, which dies at once (or a little later): the offer is in its outbox only
    const daveSell = k.order(dave, "sell", I, 1_000, 200);
    sent.push(daveSell);
    k.run(rng.int(0, 50));
    k.crash("eag3");
    // dave fails over to eag2; a probe it answers (refused: no such order), and on some seeds a copy of
    // the offer, as an agent sends again what it saw no receipt for
    send(dave, "order.cancel", { orderId: "no-such-order" }, "eag2");
    if (rng.chance(0.5)) k.deliver(daveSell, "eag2");
    k.until("alice's bid committed without eag3", () => k.state("eag0").orders.has(`alice:${buy.seq}`));
    // eag3 comes back from its files before the interval starts and submits its outbox
    k.run(rng.int(500, 5_000));
    k.restart("eag3", "persisted");
    k.until("dave's offer in the ledger", () => k.state("eag0").orders.has(`dave:${daveSell.seq}`));
    assert.ok(k.now < I * INTERVAL, "the offer made it before the interval started");

    // clearing at the start of I: one uniform price, the midpoint of 300 and 200
    k.until("clearing", () => k.ids.every((id) => k.state(id).trades.size === 2), 2 * INTERVAL);
    const trades = [...k.state("eag0").trades.values()];
    assert.deepEqual(
      trades.map((t) => t.buyer),
      ["alice", "alice"],
    );
    assert.deepEqual(trades.map((t) => t.seller).sort(), ["dave", "sam"]);
    for (const t of trades) assert.equal(t.priceMcPerKwh, 250);

    // delivery: metered summaries and the buyer's confirmations, then settlement after the window
    k.runTo((I + 1) * INTERVAL + 50);
    for (const a of [sam, dave]) send(a, "meter.summary", metered(a, I, 0, 1_000));
    send(alice, "meter.summary", metered(alice, I, 2_000, 0));
    for (const t of trades) send(alice, "delivery.confirm", { tradeId: t.id, receivedWh: 1_000 });
    k.until("settlement", () => k.ids.every((id) => k.state(id).trades.size === 0), 4 * INTERVAL);
    for (const id of k.ids) {
      const w = k.state(id).wallets;
      assert.equal(w.get(alice.wallet)?.balance, 19_500, `${id}: alice paid 2 × 250`);
      assert.equal(w.get(sam.wallet)?.balance, 20_250, `${id}: sam was paid`);
      assert.equal(w.get(dave.wallet)?.balance, 20_250, `${id}: dave was paid`);
    }

    // credit: sam (income from his sale) borrows from eag0's bank and pays alice with the token
    const req = send(sam, "credit.request", {
      bank: "eag0",
      cert: sam.cert.serial,
      wallets: [sam.wallet],
      credit: 2_000,
      amount: 5_000,
      boxKey: sam.cert.boxKey,
      demand: { qMinWh: 1_000_000, priceMcPerKwh: 1000 },
    });
    k.until("the loan granted everywhere", () =>
      k.ids.every((id) => Object.values(k.machine(id).credit().loans).some((l) => l.status === "active")),
    );
    const loan = Object.values(k.machine("eag0").credit().loans)[0];
    assert.equal(loan.borrower, "sam", `the loan of ${req.from}:${req.seq}`);
    const grant = k.grant(loan.id);
    assert.ok(grant, "the bank prepared the grant");
    const walletSeed = openWalletKey(grant.tx.keyDelivery, boxKeyPairFromSecret(sam.key.boxSecret), {
      loanId: loan.id,
      sharedWallet: loan.sharedWallet!,
      bankBoxKey: k.c.bankKeys.box.publicKey,
    });
    const payment = signPayment(
      { loanId: loan.id, paymentId: "p1", sellerWallet: alice.wallet, amount: 1_000, ts: k.now },
      walletSeed,
    );
    k.bill({ seller: "alice", payment, token: k.token(loan.id) });
    k.until("the bank paid alice's bill", () =>
      k.ids.every((id) => k.state(id).wallets.get(alice.wallet)?.balance === 20_500),
    );
    send(sam, "credit.repay", { loanId: loan.id, fromWallet: sam.wallet });
    k.until("repaid", () => k.ids.every((id) => k.machine(id).credit().loans[loan.id].status === "repaid"));
    for (const id of k.ids) {
      assert.equal(
        k.state(id).wallets.get("bank-eag0-wallet")?.balance,
        BANK_FUNDS_MC + loan.interest,
        "the bank earned the interest",
      );
    }

    audit(k, sent, (env) => env.type !== "order.cancel");
  });
});

test("an envelope receipted by an aggregator without quorum reaches the ledger from its outbox after a crash, once", () => {
  seeds(8, 100, (seed) => {
    const k = new LedgerSim({
      seed,
      dir: `${tmp.dir}/outbox-${seed}`,
      net: { drop: 0.05, duplicate: 0.05, minDelayMs: 1, maxDelayMs: 30 },
      trading: { intervalMs: INTERVAL },
    });
    const rng = k.sim.rng;
    const alice = k.agent("alice", "eag0");
    const dave = k.agent("dave", "eag3");
    k.login(alice);
    k.login(dave);
    k.until("identities registered", () =>
      k.ids.every((id) => k.machine(id).registry.agent("dave") && k.machine(id).registry.agent("alice")),
    );
    // eag3 alone: it receipts dave's registration but cannot commit it, and dies
    k.partition([["eag3"], ["eag0", "eag1", "eag2"]]);
    const reg = k.send(dave, "wallet.register", { wallet: dave.wallet });
    const regA = k.send(alice, "wallet.register", { wallet: alice.wallet });
    k.run(rng.int(200, 2_000));
    assert.equal(k.state("eag3").wallets.has(dave.wallet), false, "no quorum, no commit");
    assert.equal(k.outboxSize("eag3"), 1, "receipted into the outbox");
    k.crash("eag3");
    k.partition(null);
    k.run(rng.int(0, 2_000));
    assert.equal(k.state("eag0").wallets.has(dave.wallet), false, "only eag3 ever had it");
    // the restart submits what the outbox kept; dave never sends it again
    const mode = rng.chance(0.5) ? "persisted" : "empty";
    k.restart("eag3", mode);
    k.until("dave's wallet everywhere", () =>
      k.ids.every((id) => k.state(id).wallets.get(dave.wallet)?.balance === 20_000),
    );
    k.until("the outbox drained", () => k.outboxSize("eag3") === 0);
    audit(k, [reg, regA], () => true);
  });
});
