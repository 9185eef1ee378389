import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryNetwork } from "../aggregator/consensus/transport/memory.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { systemDuties } from "../aggregator/node/duties.js";
import { registerEnvelope, revocationsEnvelope, sysEnvelope } from "../aggregator/node/envelopes.js";
import { isNodeError, type LedgerRefusalCode } from "../aggregator/node/errors.js";
import { createGenesis, loadGenesisFile, verifyGenesis } from "../aggregator/node/genesis.js";
import { type LedgerApplyResult, LedgerMachine } from "../aggregator/node/machine.js";
import { AggregatorNode, LEDGER_MACHINE_NAME } from "../aggregator/node/node.js";
import { SignatureCache } from "../aggregator/node/sig-cache.js";
import { machineForLedger } from "../aggregator/node/verify.js";
import { summaryBody } from "../bench/harness/metering.js";
import { BANK_FUNDS_MC, makeConsortium, TestAgent } from "../bench/harness/node-consortium.js";
import { fromHex, toHex } from "../protocol/bytes.js";
import { EnvelopeVerifier, encodeEnvelope, signEnvelope } from "../protocol/envelope.js";
import { sha256 } from "../protocol/hash.js";

const dir = mkdtempSync(join(tmpdir(), "gridlet-node-ledger-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_800_000_000_000;
let now = T0;
const clock = () => now;
const c = makeConsortium(dir, { n: 4, now: clock, trading: { intervalMs: 60_000 } });
const [eag0, eag1] = c.members;
const alice = new TestAgent(c, "alice", "eag0", dir);
const sam = new TestAgent(c, "sam", "eag1", dir);

let height = 0;
function run(m: LedgerMachine, tx: unknown, proposer = "eag0"): LedgerApplyResult {
  return m.apply(tx, { time: now, height: height++, proposer });
}
const code = (r: LedgerApplyResult): LedgerRefusalCode | "ok" => (r.ok ? "ok" : r.code);

test("refusal codes are a closed union: a misspelt code does not compile", () => {
  const codes: LedgerRefusalCode[] = ["REPLAY", "UNKNOWN_SENDER", "OVERSPEND", "INTERNAL"];
  // @ts-expect-error "REPLAYED" is not a refusal code of the ledger, the trading core or the credit bank
  const typo: LedgerRefusalCode = "REPLAYED";
  assert.deepEqual([...codes, typo].length, 5);
});

test("genesis: CA-signed, parameters validated, tampering and another CA refused", () => {
  assert.equal(c.genesis.trading.intervalMs, 60_000);
  assert.equal(c.genesis.banks.eag0.fundsMc, BANK_FUNDS_MC);
  const members = c.genesis.authorities;
  const file = JSON.parse(readFileSync(c.genesisFile, "utf8"));
  assert.equal(loadGenesisFile(c.genesisFile, { members }).hash, c.genesis.hash);
  const tampered = structuredClone(file);
  tampered.genesis.banks.eag0.fundsMc += 1;
  assert.throws(
    () => verifyGenesis(tampered, { members }),
    (e) => isNodeError(e, "GENESIS_SIGNATURE"),
  );
  assert.throws(
    () => verifyGenesis(file, { members, caPublicKey: sha256("another CA") }),
    (e) => isNodeError(e, "GENESIS_SIGNATURE"),
  );
  assert.throws(
    () => verifyGenesis(file, { members: members.slice(1) }),
    (e) => isNodeError(e, "GENESIS_INVALID") && /banks\.eag0/.test(e.message),
  );
  assert.throws(
    () =>
      createGenesis(c.ca, {
        consortium: { name: "x", members },
        issued: now,
        trading: { intervalMs: 5 },
      }),
    (e) => isNodeError(e, "GENESIS_INVALID") && /genesis\.trading\.intervalMs/.test(e.message),
  );
  const bad = join(dir, "not-json.json");
  writeFileSync(bad, "{");
  assert.throws(
    () => loadGenesisFile(bad, { members }),
    (e) => isNodeError(e, "GENESIS_INVALID"),
  );
});

test("ledger machine: identities, signatures, revocation, system transactions; typed refusals", () => {
  const m = LedgerMachine.fromGenesis(c.genesis);
  assert.equal(m.state.wallets.get("bank-eag0-wallet")?.balance, BANK_FUNDS_MC);
  let seq = 0;
  const as = (member: typeof eag0) => ({ id: member.id, seed: member.seed });
  // an agent unknown to the ledger cannot speak, whatever it signs
  assert.equal(code(run(m, alice.sign("wallet.register", { wallet: alice.wallet }, now))), "UNKNOWN_SENDER");
  // only the agent's home aggregator may present its certificate
  assert.equal(code(run(m, registerEnvelope(alice.cert, ++seq, now, as(eag1)))), "UNAUTHORIZED");
  assert.equal(code(run(m, registerEnvelope(alice.cert, ++seq, now, as(eag0)))), "ok");
  assert.equal(code(run(m, registerEnvelope(alice.cert, ++seq, now, as(eag0)))), "ALREADY_REGISTERED");
  assert.equal(code(run(m, registerEnvelope(sam.cert, ++seq, now, as(eag1)))), "ok");
  // a certificate not signed by the CA
  const forgedCert = { ...sam.cert, id: "eve", sig: "00".repeat(64) };
  assert.equal(code(run(m, registerEnvelope(forgedCert, ++seq, now, as(eag1)))), "CERT_INVALID");
  // an envelope not signed by a consortium member, and one whose signature does not match
  const outsider = { id: "eag9", seed: sha256("outsider") };
  const allocTx = { id: "eag9:1", type: "allocate", sender: "eag9", body: { wallet: alice.wallet } };
  assert.equal(code(run(m, sysEnvelope(allocTx, 1, now, outsider))), "UNAUTHORIZED");
  const impostor = signEnvelope(
    { type: "sys", from: "eag0", seq: 5, ts: now, body: { ...allocTx, id: "eag0:5", sender: "eag0" } },
    sha256("not eag0's key"),
  );
  assert.equal(code(run(m, impostor)), "BAD_SIGNATURE");
  // a system transaction may not take an agent's transaction id, nor name another sender
  const sneaky = {
    id: "alice:7",
    type: "mint",
    sender: "eag0",
    body: { wallet: "x", amountMc: 1, reason: "r" },
  };
  assert.equal(code(run(m, sysEnvelope(sneaky, ++seq, now, as(eag0)))), "MALFORMED");
  assert.equal(
    code(run(m, sysEnvelope({ ...sneaky, id: "eag0:9", sender: "eag1" }, ++seq, now, as(eag0)))),
    "UNAUTHORIZED",
  );
  assert.equal(code(run(m, alice.sign("wallet.register", { wallet: alice.wallet }, now))), "ok");
  const alloc = { id: "sys:alloc:alice", type: "allocate", sender: "eag0", body: { wallet: alice.wallet } };
  assert.equal(code(run(m, sysEnvelope(alloc, ++seq, now, as(eag0)))), "ok");
  // the same system transaction from another aggregator is a harmless replay
  assert.equal(code(run(m, sysEnvelope({ ...alloc, sender: "eag1" }, ++seq, now, as(eag1)))), "REPLAY");
  // a re-delivered agent envelope is a replay in the trading core
  const env = alice.sign("meter.summary", summaryBody(1, 0, 0), now);
  assert.equal(code(run(m, env)), "ok");
  assert.equal(code(run(m, env)), "REPLAY");
  // an agent's envelope with a changed body no longer matches its signature
  const changed = { ...alice.sign("wallet.register", { wallet: "gwaaaaaaaaaaaaaaaa" }, now) };
  changed.body = { wallet: "gwbbbbbbbbbbbbbbbb" };
  assert.equal(code(run(m, changed)), "BAD_SIGNATURE");
  assert.equal(code(run(m, alice.sign("gossip", {}, now))), "UNKNOWN_MESSAGE_TYPE");
  assert.equal(code(run(m, { not: "an envelope" })), "MALFORMED");
  assert.equal(code(run(m, "text")), "MALFORMED");
  // trading refusals keep their codes
  assert.equal(code(run(m, alice.order("buy", 1, 1000, 300, now))), "INTERVAL_CLOSED");
  // each agent envelope gets one decision: a second copy of a refused one (resubmitted by the
  // aggregator an agent failed over to) is a replay, even once it would be accepted
  const tooBig = alice.order("buy", Math.floor(now / 60_000) + 2, 100_000, 300, now);
  assert.equal(code(run(m, tooBig)), "INSUFFICIENT_FUNDS");
  const topUp = {
    id: "eag0:topup",
    type: "mint",
    sender: "eag0",
    body: { wallet: alice.wallet, amountMc: 100_000, reason: "test" },
  };
  assert.equal(code(run(m, sysEnvelope(topUp, ++seq, now, as(eag0)))), "ok");
  assert.equal(code(run(m, tooBig)), "REPLAY");

  // revocation: the CA's list, relayed by any aggregator, silences the agent from that block on
  const list = c.ca.revoke("sam", "key compromised");
  const stale = { ...list, version: 0 };
  assert.equal(code(run(m, revocationsEnvelope(stale, ++seq, now, as(eag2())))), "CERT_INVALID");
  assert.equal(code(run(m, revocationsEnvelope(list, ++seq, now, as(eag2())))), "ok");
  assert.equal(code(run(m, revocationsEnvelope(list, ++seq, now, as(eag1)))), "STALE_REVOCATIONS");
  assert.equal(code(run(m, sam.sign("wallet.register", { wallet: sam.wallet }, now))), "REVOKED_SENDER");
  // a certificate used after it expires
  now = alice.cert.notAfter + 1;
  assert.equal(
    code(run(m, alice.sign("wallet.register", { wallet: "gwcccccccccccccccc" }, now))),
    "CERT_EXPIRED",
  );
  now = T0;

  // snapshot and restore keep the state hash
  const restored = LedgerMachine.restore(c.genesis, m.snapshot());
  assert.equal(restored.stateHash(), m.stateHash());
  assert.equal(code(run(restored, tooBig)), "REPLAY", "the restored machine remembers refusals");
});

function eag2() {
  return c.members[2];
}

test("wallet hijack: an agent registering another agent's certified address is refused; the owner still can", () => {
  const m = LedgerMachine.fromGenesis(c.genesis);
  const as = (member: typeof eag0) => ({ id: member.id, seed: member.seed });
  assert.equal(code(run(m, registerEnvelope(alice.cert, 1, now, as(eag0)))), "ok");
  assert.equal(code(run(m, registerEnvelope(sam.cert, 2, now, as(eag1)))), "ok");
  // alice's address is public: it is in her certificate. Sam tries to take it first.
  const hijack = run(m, sam.sign("wallet.register", { wallet: alice.wallet }, now));
  assert.equal(code(hijack), "WALLET_NOT_IN_CERTIFICATE");
  assert.ok(!hijack.ok && hijack.message.includes(alice.wallet));
  assert.equal(m.state.wallets.get(alice.wallet), undefined, "the refusal registered nothing");
  // an address nobody's certificate lists is refused too
  assert.equal(
    code(run(m, sam.sign("wallet.register", { wallet: "gwunlisted000000" }, now))),
    "WALLET_NOT_IN_CERTIFICATE",
  );
  // alice registers her own address, and trades from it
  assert.equal(code(run(m, alice.sign("wallet.register", { wallet: alice.wallet }, now))), "ok");
  assert.equal(m.state.wallets.get(alice.wallet)?.owner, "alice");
  assert.equal(code(run(m, sam.sign("wallet.register", { wallet: sam.wallet }, now))), "ok");
  // the registry's certified wallets survive a snapshot
  const restored = LedgerMachine.restore(c.genesis, m.snapshot());
  assert.equal(restored.stateHash(), m.stateHash());
  assert.equal(
    code(run(restored, sam.sign("wallet.register", { wallet: alice.wallet }, now))),
    "WALLET_NOT_IN_CERTIFICATE",
  );
});

test("one verification per envelope across validateTx and apply; verdicts do not depend on the cache", () => {
  const cache = new SignatureCache();
  const warm = LedgerMachine.fromGenesis(c.genesis, { cache });
  const cold = LedgerMachine.fromGenesis(c.genesis, { cache: new SignatureCache(undefined, 1) });
  const register = registerEnvelope(alice.cert, 1, now, { id: eag0.id, seed: eag0.seed });
  const wallet = alice.sign("wallet.register", { wallet: alice.wallet }, now);
  const forged = {
    ...alice.sign("meter.summary", summaryBody(3, 5, 0), now),
  };
  forged.body = summaryBody(3, 500, 0);
  // a valid signature pasted onto another envelope is not taken from the cache
  const pasted = {
    ...alice.sign("meter.summary", summaryBody(4, 1, 0), now),
  };
  for (const tx of [register, wallet, forged, pasted]) {
    const before = cache.misses;
    const valid = warm.validateTx(tx);
    const r1 = run(warm, tx);
    assert.equal(cache.misses, before + 1, "validateTx and apply share one verification");
    const r2 = run(cold, tx);
    assert.equal(code(r1), code(r2));
    if (tx === forged) assert.deepEqual([valid, code(r1)], [false, "BAD_SIGNATURE"]);
  }
  // (block transactions are frozen once decoded: the paste makes a new object)
  assert.ok(Object.isFrozen(pasted));
  const repasted = { ...pasted, sig: wallet.sig };
  assert.equal(warm.validateTx(repasted), false);
  assert.equal(code(run(warm, repasted)), "BAD_SIGNATURE");
  assert.equal(warm.stateHash(), cold.stateHash());
});

test("duties: one designated aggregator per clearing, the others step in when it is late", () => {
  const m = LedgerMachine.fromGenesis(c.genesis);
  const as = (member: typeof eag0) => ({ id: member.id, seed: member.seed });
  run(m, registerEnvelope(alice.cert, 1, now, as(eag0)));
  run(m, alice.sign("wallet.register", { wallet: alice.wallet }, now));
  const members = c.genesis.authorities.map((a) => a.id);
  const duties = (self: string, at: number) =>
    systemDuties(m.state, m.registry, c.genesis, m.credit(), at, {
      members,
      self,
      fallbackMs: 5_000,
      sweepEveryMs: 86_400_000,
    }).map((t) => t.id);
  // the home aggregator owes alice's allocation; nobody else does
  assert.deepEqual(duties("eag0", now), ["sys:alloc:alice"]);
  assert.deepEqual(duties("eag1", now), []);
  run(
    m,
    sysEnvelope(
      { id: "sys:alloc:alice", type: "allocate", sender: "eag0", body: { wallet: alice.wallet } },
      2,
      now,
      as(eag0),
    ),
  );
  const interval = Math.floor(now / 60_000) + 1;
  assert.equal(code(run(m, alice.order("buy", interval, 1_000, 300, now))), "ok");
  const start = interval * 60_000;
  const designated = members[interval % 4];
  const other = members[(interval + 1) % 4];
  assert.deepEqual(duties(designated, start - 1), []);
  assert.deepEqual(duties(designated, start), [`sys:clear:${interval}`]);
  assert.deepEqual(duties(other, start), []);
  assert.deepEqual(duties(other, start + 5_000), [`sys:clear:${interval}`]);
});

test("a node refuses a block store written under another genesis, and bad consensus options", () => {
  const other = makeConsortium(join(dir, "other"), { n: 4, now: clock, label: "other" });
  const file = join(dir, "eag0.db");
  const net = new MemoryNetwork();
  const opts = (g: typeof c) => ({
    self: "eag0",
    seed: g.members[0].seed,
    genesis: g.genesis,
    link: net.linkFor("eag0"),
    clock,
  });
  const store = new BlockStore(file);
  try {
    const node = new AggregatorNode({ ...opts(c), store });
    assert.equal(store.getMeta("genesis"), c.genesis.hash);
    assert.equal(store.getMeta("machine"), LEDGER_MACHINE_NAME);
    node.stop();
    assert.throws(
      () => new AggregatorNode({ ...opts(other), store }),
      (e) => isNodeError(e, "STORE_MISMATCH"),
    );
    assert.throws(
      () => new AggregatorNode({ ...opts(c), store, consensus: { slotTimeoutMs: 1 } }),
      (e) => isNodeError(e, "BAD_CONFIG") && /consensus\.slotTimeoutMs/.test(e.message),
    );
    // the auditor's factory checks the genesis file against the one the store names
    assert.equal(
      machineForLedger(store, c.genesisFile).stateHash(),
      LedgerMachine.fromGenesis(c.genesis).stateHash(),
    );
    assert.throws(
      () => machineForLedger(store, other.genesisFile),
      (e) => isNodeError(e, "STORE_MISMATCH"),
    );
  } finally {
    store.close();
  }
});

test("a proof-of-work reward counts only as the proposer's own at its own height", () => {
  const m = LedgerMachine.fromGenesis(c.genesis);
  const reward = (to: string, h: number) => ({ kind: "reward", id: `reward/${h}`, to, amount: 1_000 });
  const ctx = (h: number) => ({ time: now, height: h, proposer: "eag1" });
  assert.equal(code(m.apply(reward("eag0", 5), ctx(5))), "UNAUTHORIZED");
  assert.equal(code(m.apply(reward("eag1", 4), ctx(5))), "UNAUTHORIZED");
  assert.equal(code(m.apply(reward("eag1", 5), ctx(5))), "ok");
  assert.equal(code(m.apply(reward("eag1", 5), ctx(5))), "REPLAY");
  assert.equal(code(m.apply(reward("eag1", 6), ctx(6))), "ok");
  assert.equal(m.state.wallets.get("reward-eag1")?.balance, 2_000);
  // never inside a PBFT proposal: it is not a signed envelope
  assert.equal(m.validateTx(reward("eag1", 7)), false);
});

test("one verification per envelope from ingest to execution: ingest checks through the ledger's cache", () => {
  const cache = new SignatureCache();
  const m = LedgerMachine.fromGenesis(c.genesis, { cache });
  run(m, registerEnvelope(alice.cert, 50, now, { id: eag0.id, seed: eag0.seed }));
  const key = fromHex(alice.cert.publicKey)!;
  // what aggregator/runtime wires: ingest's verifier checks signatures through the same cache
  const verifier = new EnvelopeVerifier({
    directory: { lookup: (id) => (id === alice.id ? { publicKey: key, revoked: false } : undefined) },
    checkSignature: (e, pk) => cache.verify(e, toHex(pk)),
    now: clock,
  });
  const wire = encodeEnvelope(alice.sign("wallet.register", { wallet: alice.wallet }, now));
  const before = cache.misses;
  const env = verifier.verify(wire);
  assert.equal(cache.misses, before + 1, "ingest verifies once");
  // the ledger gets its own copy (the outbox row, then the block), checked at proposal and execution
  const copy = JSON.parse(JSON.stringify(env));
  assert.equal(m.validateTx(copy), true);
  assert.equal(code(run(m, copy)), "ok");
  assert.equal(cache.misses, before + 1, "no second ed25519 verification");
  // a forged copy is still refused: the cache is keyed by content
  const forged = { ...JSON.parse(JSON.stringify(env)), body: { wallet: "gwforged0001" } };
  assert.equal(m.validateTx(forged), false);
});
