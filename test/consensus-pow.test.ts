import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { meetsTarget, powHash, type RewardTx } from "../aggregator/consensus/pow/messages.js";
import { Simulation } from "../aggregator/consensus/sim/simulator.js";
import { blockHash } from "../aggregator/ledger/block.js";
import { KvMachine } from "../aggregator/ledger/kv-machine.js";
import { ed25519Verifier } from "../aggregator/ledger/signing.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { verifyLedger } from "../aggregator/ledger/verify.js";
import { toHex } from "../protocol/bytes.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";

/*
 * Seed 000's mode: a small proof of work picks each block's leader, every aggregator audits and
 * broadcasts a signed audit, all compare and reply, and the block commits only when all agree; the leader
 * is paid by the block's first transaction.
 */

function runPow(seed: number, signatures: "sim" | "ed25519", drop: number) {
  const sim = new Simulation({
    seed,
    n: 4,
    signatures,
    mode: "pow",
    net: { drop, duplicate: 0.05, minDelayMs: 1, maxDelayMs: 20 },
  });
  for (let i = 0; i < 12; i++) {
    sim.at(i * 17, () =>
      sim.submit(sim.members[(i * 7 + seed) % 4], { id: `t${i}`, key: `k${i % 2}`, add: 1 }),
    );
  }
  sim.run(20_000);
  return sim;
}

function checkRun(sim: Simulation, label: string): void {
  assert.deepEqual(sim.violations, [], `${label}: two blocks committed at one height`);
  const stores = sim.members.map((m) => sim.replica(m).store);
  for (const m of sim.members) {
    const ids = sim.committedIds(m);
    for (let i = 0; i < 12; i++) assert.ok(ids.has(`t${i}`), `${label}: ${m} is missing t${i}`);
  }
  const hashes = new Set(sim.members.map((m) => sim.replica(m).machine.stateHash()));
  assert.equal(hashes.size, 1, `${label}: state hashes differ`);
  for (const e of stores[0]) {
    const reward = e.block.txs[0] as RewardTx;
    assert.equal(reward.kind, "reward");
    assert.equal(reward.to, e.block.header.proposer, `${label}: the reward goes to the leader`);
    // Commit needs every member's reply.
    assert.equal(e.qc.votes.length, 4);
  }
}

test("proof-of-work target: leading zero bits", () => {
  assert.ok(meetsTarget(`00f${"f".repeat(61)}`, 8));
  assert.ok(!meetsTarget(`01f${"f".repeat(61)}`, 8));
  assert.ok(meetsTarget(`007${"f".repeat(61)}`, 9));
  assert.ok(!meetsTarget(`008${"f".repeat(61)}`, 9));
  assert.ok(meetsTarget("f".repeat(64), 0));
  assert.notEqual(
    powHash("a", 1, 0, "m", "r", 5),
    powHash("a", 1, 0, "m2", "r", 5),
    "the miner is part of the history",
  );
});

test("all honest, lossy network: every block agreed by all, leader rewarded, 150 seeds", () => {
  for (let seed = 1; seed <= 150; seed++) checkRun(runPow(seed, "sim", 0.1), `seed ${seed}`);
});

test("with real ed25519 signatures, 6 seeds; the ledger passes verification in proof-of-work mode", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-pow-"));
  try {
    for (let seed = 900; seed < 906; seed++) {
      const sim = runPow(seed, "ed25519", 0.05);
      checkRun(sim, `seed ${seed}`);
      const store = new BlockStore(join(dir, `${seed}.db`));
      for (const e of sim.replica("eag2").store) store.append(e, blockHash(e.block.header));
      const members = sim.members.map((id) => ({ id, publicKey: toHex(sim.publicKeys.get(id)!) }));
      const verifier = ed25519Verifier(sim.publicKeys, defaultEd25519);
      const report = verifyLedger(store, { members, verifier, machine: new KvMachine(), mode: "pow" });
      assert.equal(report.stateHash, sim.replica("eag2").machine.stateHash());
      // The same ledger read as PBFT fails: its certificates and positions follow the other rules.
      assert.throws(() => verifyLedger(store, { members, verifier, mode: "pbft" }));
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("unanimity: a silent member stops the ledger until it returns", () => {
  const sim = new Simulation({ seed: 3, n: 4, signatures: "sim", mode: "pow" });
  sim.at(0, () => sim.crash("eag3"));
  sim.at(5, () => sim.submit("eag0", { id: "x", key: "k", add: 1 }));
  sim.run(3000);
  assert.equal(sim.replica("eag0").store.length, 0, "committed without the silent member's reply");
  sim.at(3001, () => sim.restart("eag3", "persisted"));
  sim.run(15_000);
  for (const m of sim.members)
    assert.ok(sim.committedIds(m).has("x"), `${m} did not commit after the member returned`);
});

test("members restarting from their stored blocks and replies keep one ledger: 40 seeds", () => {
  for (let seed = 300; seed < 340; seed++) {
    const sim = new Simulation({
      seed,
      n: 4,
      signatures: "sim",
      mode: "pow",
      net: { drop: 0.05, duplicate: 0.05 },
    });
    const victim = sim.members[seed % 4];
    // Clients of the restarting member would resubmit what it lost from memory; these use the others.
    const others = sim.members.filter((m) => m !== victim);
    for (let i = 0; i < 12; i++) {
      sim.at(i * 17, () => sim.submit(others[i % 3], { id: `t${i}`, key: "k", add: 1 }));
    }
    sim.at(60 + (seed % 7) * 20, () => sim.crash(victim));
    sim.at(400, () => sim.restart(victim, "persisted"));
    sim.run(20_000);
    checkRun(sim, `seed ${seed}`);
  }
});
