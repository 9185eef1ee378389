import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { MemoryNetwork } from "../aggregator/consensus/transport/memory.js";
import { CreditBankService } from "../aggregator/credit/service.js";
import { ed25519Verifier } from "../aggregator/ledger/signing.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { verifyLedger } from "../aggregator/ledger/verify.js";
import type { AppliedTx } from "../aggregator/node/machine.js";
import { AggregatorNode, type CommitOutput, type NodeConsensusOptions } from "../aggregator/node/node.js";
import { machineForLedger } from "../aggregator/node/verify.js";
import type { TradingState } from "../aggregator/state/types.js";
import { seededRandom } from "../bench/harness/credit-world.js";
import {
  BANK_FUNDS_MC,
  makeConsortium,
  TestAgent,
  type TestConsortium,
} from "../bench/harness/node-consortium.js";
import { fromHex } from "../protocol/bytes.js";
import { openWalletKey, signPayment } from "../protocol/credit-token.js";
import { boxKeyPairFromSecret } from "../protocol/crypto/box.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { signEnvelope } from "../protocol/envelope.js";
import { sha256 } from "../protocol/hash.js";

const run = promisify(execFile);
const cli = join(import.meta.dirname, "..", "cli", "main.js");
const dir = mkdtempSync(join(tmpdir(), "gridlet-node-cluster-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const INTERVAL = 60_000;
const T0 = 1_800_000_000_000 + 1_000;

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // A node executes a block in the step that decides it but reports it (and sends what follows from it)
  // once its turn's writes are on disk: the host's group commit, at the end of the same turn.
  await new Promise((r) => setImmediate(r));
}

/** Four aggregators in one process over a MemoryNetwork, each with its own SQLite block store. */
class Cluster {
  now = T0;
  readonly net = new MemoryNetwork();
  readonly nodes: AggregatorNode[] = [];
  readonly stores: BlockStore[] = [];
  readonly outputs: CommitOutput[][] = [];
  readonly c: TestConsortium;
  readonly sub: string;

  constructor(
    name: string,
    readonly consensus: NodeConsensusOptions = { slotTimeoutMs: 400, checkpointInterval: 2 },
  ) {
    this.sub = join(dir, name);
    this.c = makeConsortium(this.sub, {
      n: 4,
      now: () => this.now,
      label: name,
      trading: { intervalMs: INTERVAL, confirmWindowMs: INTERVAL },
      // Default after 30 days rather than the seed's year, so that the agents' one-year certificates
      // are still valid when the blacklisting test jumps past it.
      credit: {
        eligibility: { incomePeriodDays: 1, incomePeriods: 1, minIncomePeriods: 1 },
        defaultLimitDays: 30,
      },
    });
    for (let i = 0; i < 4; i++) this.nodes.push(this.make(i));
  }

  make(i: number): AggregatorNode {
    const m = this.c.members[i];
    const store = new BlockStore(join(this.sub, `${m.id}.db`));
    this.stores[i] = store;
    this.outputs[i] = [];
    return new AggregatorNode({
      self: m.id,
      seed: m.seed,
      genesis: this.c.genesis,
      store,
      link: this.net.linkFor(m.id),
      consensus: this.consensus,
      bank: i === 0 ? new CreditBankService(this.c.bankKeys, seededRandom("bank")) : undefined,
      clock: () => this.now,
      tickMs: 50,
      fallbackMs: 5_000,
      onCommit: (out) => this.outputs[i].push(out),
    });
  }

  start(i: number): void {
    this.net.attach(this.nodes[i].host);
    this.nodes[i].start();
  }

  stop(i: number): void {
    this.nodes[i].stop();
    this.stores[i].close();
  }

  applied(i: number): AppliedTx[] {
    return this.outputs[i].flatMap((o) => o.applied);
  }

  state(i: number): TradingState {
    return this.nodes[i].machine.state;
  }

  async settled(who: number[]): Promise<void> {
    await until("the same height and state hash", () => {
      const h = who.map((i) => this.nodes[i].height);
      const s = who.map((i) => this.nodes[i].stateHash());
      return h.every((x) => x === h[0]) && s.every((x) => x === s[0]);
    });
  }

  stopAll(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      this.nodes[i].stop();
      try {
        this.stores[i].close();
      } catch {
        // closed already by a crash in the test
      }
    }
  }
}

/** Signed readings over the interval (kept by the agent: no ingest here) and the summary they prove. */
function metered(a: TestAgent, interval: number, importWh: number, exportWh: number) {
  a.meters.interval(interval, INTERVAL, importWh, exportWh);
  return a.meters.summary(interval, INTERVAL);
}

function conserved(s: TradingState): void {
  let sum = 0;
  for (const w of s.wallets.values()) {
    assert.ok(w.frozen >= 0 && w.frozen <= w.balance, `wallet ${w.address} frozen within balance`);
    sum += w.balance;
  }
  assert.equal(sum, s.supply, "Σ balance = supply");
}

test("four aggregators trade a signed scenario to one state hash; crash, restart from the store, revocation", async () => {
  const k = new Cluster("scenario");
  const { nodes } = k;
  try {
    for (let i = 0; i < 4; i++) k.start(i);
    const alice = new TestAgent(k.c, "alice", "eag0", k.sub);
    const sam = new TestAgent(k.c, "sam", "eag1", k.sub);
    const mallory = new TestAgent(k.c, "mallory", "eag2", k.sub);
    nodes[0].registerIdentity(alice.cert);
    nodes[1].registerIdentity(sam.cert);
    nodes[2].registerIdentity(mallory.cert);
    const all = [0, 1, 2, 3];
    await until("identities everywhere", () =>
      all.every((i) =>
        ["alice", "sam", "mallory"].every((a) => nodes[i].machine.registry.agent(a) !== undefined),
      ),
    );
    for (const [a, home] of [
      [alice, 0],
      [sam, 1],
      [mallory, 2],
    ] as const)
      assert.ok(nodes[home].submit(a.sign("wallet.register", { wallet: a.wallet }, k.now)));
    // the home aggregators allocate on the first wallet (genesis rule)
    await until("allocations everywhere", () =>
      all.every((i) =>
        [alice, sam, mallory].every((a) => k.state(i).wallets.get(a.wallet)?.balance === 20_000),
      ),
    );

    // revocation: the CA's new list, relayed by eag3; mallory's next order is refused by every replica
    nodes[3].relayRevocations(k.c.ca.revoke("mallory", "meter tampering"));
    await until("revocation everywhere", () =>
      all.every((i) => nodes[i].machine.registry.snapshot().revocations.version === 2),
    );
    const cur = Math.floor(k.now / INTERVAL);
    const I = cur + 1;
    const mal = mallory.order("buy", I, 1000, 300, k.now);
    assert.ok(nodes[2].submit(mal), "a revoked agent's envelope is still well signed");
    await until("mallory refused", () =>
      all.every((i) => k.applied(i).some((a) => a.from === "mallory" && !a.result.ok)),
    );
    for (const i of all) {
      const r = k.applied(i).find((a) => a.from === "mallory" && !a.result.ok)!.result;
      assert.equal(!r.ok && r.code, "REVOKED_SENDER");
      assert.equal(k.state(i).orders.size, 0);
    }

    // metered export in the interval before, then one offer and one bid for the next interval
    assert.ok(nodes[1].submit(sam.sign("meter.summary", metered(sam, cur - 1, 0, 5_000), k.now)));
    assert.ok(nodes[1].submit(sam.order("sell", I, 1_000, 200, k.now)));
    assert.ok(nodes[0].submit(alice.order("buy", I, 1_000, 300, k.now)));
    await until("both orders everywhere", () => all.every((i) => k.state(i).orders.size === 2));

    // eag3 crashes (f = 1 of 4): clearing, delivery and settlement go on without it
    const before = nodes[3].stateHash();
    const heightBefore = nodes[3].height;
    k.stop(3);
    const live = [0, 1, 2];
    k.now = I * INTERVAL + 5;
    await until("clearing", () => live.every((i) => k.state(i).trades.size === 1), 20_000);
    const fillAlice = k.outputs[0].flatMap((o) => o.fills).find((f) => f.to === "alice");
    const fillSam = k.outputs[1].flatMap((o) => o.fills).find((f) => f.to === "sam");
    assert.ok(fillAlice && fillSam, "each home aggregator reports its own agent's fill");
    assert.equal(fillAlice.fill.side, "buy");
    assert.equal(fillSam.fill.tradeId, fillAlice.fill.tradeId);
    assert.equal(fillAlice.fill.priceMcPerKwh, 250, "uniform price: midpoint of 300 and 200");
    const tradeId = fillAlice.fill.tradeId;
    const clears = k.applied(0).filter((a) => a.txId === `sys:clear:${I}`);
    assert.deepEqual(
      clears.map((a) => [a.from, a.result.ok]),
      [[`eag${I % 4}`, true]],
      "only the designated aggregator sent the clearing",
    );

    k.now = (I + 1) * INTERVAL + 5;
    assert.ok(nodes[1].submit(sam.sign("meter.summary", metered(sam, I, 0, 1_000), k.now)));
    assert.ok(nodes[0].submit(alice.sign("meter.summary", metered(alice, I, 1_000, 0), k.now)));
    assert.ok(nodes[0].submit(alice.sign("delivery.confirm", { tradeId, receivedWh: 1_000 }, k.now)));
    await until("confirmation", () =>
      live.every((i) => k.state(i).trades.get(tradeId)?.confirmedWh === 1_000),
    );
    k.now = (I + 1) * INTERVAL + INTERVAL + 5;
    await until("settlement", () => live.every((i) => k.state(i).trades.size === 0), 20_000);
    for (const i of live) {
      assert.equal(k.state(i).wallets.get(sam.wallet)!.balance, 20_250);
      assert.equal(k.state(i).wallets.get(alice.wallet)!.balance, 19_750);
    }
    assert.ok(
      k.outputs[1].some((o) => o.views.some((v) => v.agent === "sam" && v.wallets[0].balanceMc === 20_250)),
      "sam's home reports its account view",
    );

    // eag3 restarts from its block store: the replay alone gives back the hash it had, then it catches up
    k.nodes[3] = k.make(3);
    nodes[3].start();
    assert.equal(nodes[3].height, heightBefore);
    assert.equal(nodes[3].stateHash(), before, "replaying the store reproduces the state hash");
    k.net.attach(nodes[3].host);

    // a loan from eag0's credit bank, granted by the bank's aggregator, repaid by the borrower
    const request = {
      bank: "eag0",
      cert: sam.cert.serial,
      wallets: [sam.wallet],
      credit: 2_000,
      amount: 5_000,
      boxKey: sam.cert.boxKey,
      demand: { qMinWh: 1_000_000, priceMcPerKwh: 1000 },
    };
    assert.ok(nodes[1].submit(sam.sign("credit.request", request, k.now)));
    await until("loan granted everywhere", () =>
      all.every((i) => Object.values(nodes[i].machine.credit().loans).some((l) => l.status === "active")),
    );
    const loan = Object.values(nodes[0].machine.credit().loans)[0];
    const grant = k.outputs[0].flatMap((o) => o.grants).find((g) => g.tx.loanId === loan.id);
    assert.ok(grant, "the bank's node reports the committed grant with the shared wallet's seed");
    assert.equal(grant.tx.sharedWallet, loan.sharedWallet);
    // sam opens the shared wallet's key sealed to him and pays alice with the token; alice bills the bank
    const walletSeed = openWalletKey(grant.tx.keyDelivery, boxKeyPairFromSecret(sam.key.boxSecret), {
      loanId: loan.id,
      sharedWallet: grant.tx.sharedWallet,
      bankBoxKey: k.c.bankKeys.box.publicKey,
    });
    const token = new CreditBankService(k.c.bankKeys, seededRandom("view")).currentToken(
      nodes[0].machine.credit(),
      loan.id,
    );
    const payment = signPayment(
      { loanId: loan.id, paymentId: "p1", sellerWallet: alice.wallet, amount: 1_000, ts: k.now },
      walletSeed,
    );
    nodes[0].submitBill({ seller: "alice", payment, token });
    await until("the bill paid everywhere", () =>
      all.every((i) => k.state(i).wallets.get(alice.wallet)!.balance === 19_750 + 1_000),
    );
    assert.ok(nodes[1].submit(sam.sign("credit.repay", { loanId: loan.id, fromWallet: sam.wallet }, k.now)));
    await until("loan repaid everywhere", () =>
      all.every((i) => nodes[i].machine.credit().loans[loan.id].status === "repaid"),
    );

    await k.settled(all);
    for (const i of all) {
      conserved(k.state(i));
      assert.equal(k.state(i).supply, 3 * 20_000 + BANK_FUNDS_MC, "coins only from allocation and genesis");
    }
    const bank = k.state(0).wallets.get("bank-eag0-wallet")!.balance;
    assert.equal(bank, BANK_FUNDS_MC + loan.interest, "the bank earned the interest");

    // A second loan that sam never repays. Past its buffer and the default limit the bank's sweep blacklists him (seed
    // 000 §III), and the blacklist is ledger state: an order and a credit request he sends through
    // another aggregator than the bank's are refused there, and everywhere, with BLACKLISTED.
    assert.ok(nodes[1].submit(sam.sign("credit.request", request, k.now)));
    await until("second loan granted everywhere", () =>
      all.every((i) => Object.values(nodes[i].machine.credit().loans).some((l) => l.status === "active")),
    );
    const second = Object.values(nodes[0].machine.credit().loans).find((l) => l.status === "active")!;
    const days = (c: { termDays: number; bufferDays: number; defaultLimitDays: number }) =>
      c.termDays + c.bufferDays + c.defaultLimitDays + 1;
    k.now += days(k.c.genesis.credit) * 86_400_000;
    await until(
      "sam blacklisted everywhere",
      () => all.every((i) => k.state(i).blacklist.has("sam")),
      20_000,
    );
    assert.equal(nodes[0].machine.credit().loans[second.id].status, "defaulted");
    const late = Math.floor(k.now / INTERVAL) + 2;
    const refusedOrder = sam.order("buy", late, 100, 300, k.now);
    assert.ok(nodes[2].submit(refusedOrder), "well signed: it enters a block");
    assert.ok(nodes[2].submit(sam.sign("credit.request", request, k.now)));
    await until("both refused everywhere", () =>
      all.every((i) => k.applied(i).filter((a) => a.from === "sam" && !a.result.ok).length >= 2),
    );
    for (const i of all) {
      const refused = k.applied(i).filter((a) => a.from === "sam" && !a.result.ok);
      assert.deepEqual(
        refused.slice(-2).map((a) => [a.type, a.result.ok ? "ok" : a.result.code]),
        [
          ["order", "BLACKLISTED"],
          ["credit.request", "BLACKLISTED"],
        ],
        `refusals at ${nodes[i].self}`,
      );
    }
    await k.settled(all);

    // every ledger verifies, and re-executing it from the genesis file gives the live state hash
    for (const i of all) {
      const store = k.stores[i];
      const members = k.c.genesis.authorities;
      const keys = new Map(members.map((m) => [m.id, fromHex(m.publicKey)!]));
      const report = verifyLedger(store, {
        members,
        verifier: ed25519Verifier(keys, defaultEd25519),
        machine: machineForLedger(store, k.c.genesisFile),
      });
      assert.equal(report.stateHash, nodes[i].stateHash());
      assert.ok(report.checkpointsChecked > 0);
    }
    const live0 = nodes[0].stateHash();
    k.stopAll();

    // the auditor's command line: re-executing the trading ledger from its genesis
    const db = join(k.sub, "eag0.db");
    const ok = await run(process.execPath, [
      cli,
      "ledger",
      "verify",
      "--db",
      db,
      "--genesis",
      k.c.genesisFile,
      "--json",
    ]);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.stateHash, live0);
    // the store carries the CA-signed genesis it runs under: without --genesis it re-executes from that
    const own = JSON.parse(
      (await run(process.execPath, [cli, "ledger", "verify", "--db", db, "--json"])).stdout,
    );
    assert.equal(own.stateHash, live0);
  } finally {
    k.stopAll();
  }
});

test("a forged agent envelope in a proposal is refused by the others and never applied", async () => {
  const k = new Cluster("forgery");
  const { nodes } = k;
  try {
    for (let i = 0; i < 4; i++) k.start(i);
    const alice = new TestAgent(k.c, "alice", "eag0", k.sub);
    nodes[0].registerIdentity(alice.cert);
    const all = [0, 1, 2, 3];
    await until("identity everywhere", () =>
      all.every((i) => nodes[i].machine.registry.agent("alice") !== undefined),
    );
    const forged = signEnvelope(
      { type: "wallet.register", from: "alice", seq: 99, ts: k.now, body: { wallet: alice.wallet } },
      sha256("not alice's key"),
    );
    assert.equal(nodes[3].submit(forged), false, "an honest node does not propose it");
    // eag3 turns Byzantine: it puts the forgery straight into its own proposal
    nodes[3].host.submit(forged);
    const refusals = () =>
      [0, 1, 2].every((i) => (nodes[i].host.rejected.get("proposal with an invalid transaction") ?? 0) >= 1);
    await until("the proposal refused", refusals);
    // and then it crashes: the other three (2f + 1) carry on
    k.stop(3);
    assert.ok(nodes[1].submit(alice.sign("wallet.register", { wallet: alice.wallet }, k.now)));
    await until(
      "alice's real wallet",
      () => [0, 1, 2].every((i) => k.state(i).wallets.get(alice.wallet)?.balance === 20_000),
      20_000,
    );
    for (const i of [0, 1, 2]) {
      assert.ok(!k.state(i).seenTx.has("alice:99"), "the forgery never entered the ledger");
      assert.ok(!k.applied(i).some((a) => a.txId === "alice:99"));
    }
    await k.settled([0, 1, 2]);
  } finally {
    k.stopAll();
  }
});

test("seed 000's proof-of-work mode runs the same ledger machine; leaders' rewards are minted", async () => {
  const k = new Cluster("pow", {
    mode: "pow",
    pow: { difficultyBits: 6, noncesPerStep: 256, mineStepMs: 1, attemptTimeoutMs: 2_000, reward: 1_000 },
  });
  const { nodes } = k;
  try {
    for (let i = 0; i < 4; i++) k.start(i);
    const alice = new TestAgent(k.c, "alice", "eag2", k.sub);
    nodes[2].registerIdentity(alice.cert);
    const all = [0, 1, 2, 3];
    await until("identity everywhere", () =>
      all.every((i) => nodes[i].machine.registry.agent("alice") !== undefined),
    );
    assert.ok(nodes[2].submit(alice.sign("wallet.register", { wallet: alice.wallet }, k.now)));
    await until("allocation everywhere", () =>
      all.every((i) => k.state(i).wallets.get(alice.wallet)?.balance === 20_000),
    );
    await k.settled(all);
    for (const i of all) {
      const s = k.state(i);
      conserved(s);
      let rewards = 0;
      for (const w of s.wallets.values()) if (w.address.startsWith("reward-")) rewards += w.balance;
      assert.ok(rewards >= 3_000, "every block paid its leader");
      assert.equal(s.supply, BANK_FUNDS_MC + 20_000 + rewards);
    }
  } finally {
    k.stopAll();
  }
});
