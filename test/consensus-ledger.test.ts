import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { Simulation } from "../aggregator/consensus/sim/simulator.js";
import { blockHash } from "../aggregator/ledger/block.js";
import { isLedgerError } from "../aggregator/ledger/errors.js";
import { KvMachine } from "../aggregator/ledger/kv-machine.js";
import { ed25519Verifier } from "../aggregator/ledger/signing.js";
import { BlockStore, type LedgerMember } from "../aggregator/ledger/store.js";
import { verifyLedger } from "../aggregator/ledger/verify.js";
import { toHex } from "../protocol/bytes.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "gridlet-ledger-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = join(import.meta.dirname, "..", "cli", "main.js");

/** A ledger written the way an aggregator writes it: a simulated consortium with real signatures. */
function makeLedger(name: string): { file: string; members: LedgerMember[]; sim: Simulation } {
  const sim = new Simulation({ seed: 42, n: 4, signatures: "ed25519", config: { checkpointInterval: 2 } });
  for (let i = 0; i < 30; i++)
    sim.at(i * 4, () => sim.submit(sim.members[i % 4], { id: `t${i}`, key: `k${i % 5}`, add: i }));
  sim.run(5000);
  const file = join(dir, name);
  const store = new BlockStore(file);
  const r = sim.replica("eag1");
  for (const e of r.store) store.append(e, blockHash(e.block.header));
  for (const c of r.stable) store.putCheckpoint(c);
  const members = sim.members.map((id) => ({ id, publicKey: toHex(sim.publicKeys.get(id)!) }));
  store.setMeta("members", members);
  store.setMeta("machine", "kv");
  store.close();
  return { file, members, sim };
}

function verifierOf(members: LedgerMember[]) {
  return ed25519Verifier(
    new Map(members.map((m) => [m.id, Buffer.from(m.publicKey, "hex")])),
    defaultEd25519,
  );
}

/** Rewrites one stored entry in place, as an attacker with the file would. */
function tamper(file: string, seq: number, edit: (entry: Record<string, unknown>) => void): void {
  const db = new Database(file);
  const row = db.prepare("SELECT entry FROM blocks WHERE seq = ?").get(seq) as { entry: string };
  const entry = JSON.parse(row.entry);
  edit(entry);
  db.prepare("UPDATE blocks SET entry = ? WHERE seq = ?").run(JSON.stringify(entry), seq);
  db.close();
}

test("a ledger written by consensus verifies: chain, roots, signatures, certificates, re-execution", () => {
  const { file, members, sim } = makeLedger("good.db");
  const store = new BlockStore(file, { readonly: true });
  const report = verifyLedger(store, { members, verifier: verifierOf(members), machine: new KvMachine() });
  store.close();
  assert.equal(report.transactions, 30);
  assert.ok(report.checkpointsChecked >= 1, "no checkpoint was compared");
  assert.equal(report.stateHash, sim.replica("eag1").machine.stateHash());
});

test("tampering is caught: a changed transaction, a forged certificate, a broken chain", () => {
  const cases: [string, (e: Record<string, unknown>) => void, string][] = [
    [
      "tx.db",
      (e) =>
        ((e.block as { txs: { add: number }[] }).txs[0] = {
          ...(e.block as { txs: { add: number }[] }).txs[0],
          add: 1e6,
        }),
      "BAD_MERKLE_ROOT",
    ],
    [
      "qc.db",
      (e) => ((e.qc as { votes: { sig: string }[] }).votes[0].sig = "00".repeat(64)),
      "BAD_CERTIFICATE",
    ],
    ["prev.db", (e) => (e.prev = "11".repeat(32)), "BAD_CHAIN"],
  ];
  for (const [name, edit, code] of cases) {
    const { file, members } = makeLedger(name);
    const seq = 5;
    tamper(file, seq, (e) => {
      // Pick a block with a transaction for the transaction case.
      edit(e);
    });
    const store = new BlockStore(file, { readonly: true });
    assert.throws(
      () => verifyLedger(store, { members, verifier: verifierOf(members), machine: new KvMachine() }),
      (e: unknown) =>
        isLedgerError(e) && (e.code === code || (code === "BAD_MERKLE_ROOT" && e.code === "MALFORMED_BLOCK")),
      `${name}: expected ${code}`,
    );
    store.close();
  }
});

test("gridlet ledger verify and export from the command line", async () => {
  const { file } = makeLedger("cli.db");
  const ok = await run(process.execPath, [cli, "ledger", "verify", "--db", file, "--json"]);
  const report = JSON.parse(ok.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.transactions, 30);
  const out = join(dir, "blocks.jsonl");
  await run(process.execPath, [cli, "ledger", "export", "--db", file, "--out", out]);
  const lines = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines[0].kind, "header");
  assert.equal(lines[0].meta.machine, "kv");
  const blocks = lines.filter((l) => l.kind === "block");
  assert.equal(blocks[0].seq, 0);
  assert.equal(blocks.length, report.blocks);
  assert.equal(lines.filter((l) => l.kind === "checkpoint").length, report.checkpointsChecked);
  // the export verifies on its own, like the file
  const fromExport = await run(process.execPath, [cli, "ledger", "verify", "--export", out, "--json"]);
  assert.equal(JSON.parse(fromExport.stdout).stateHash, report.stateHash);
  tamper(file, 3, (e) => ((e.block as { header: { time: number } }).header.time += 1));
  await assert.rejects(
    run(process.execPath, [cli, "ledger", "verify", "--db", file]),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /BAD_PROPOSER_SIGNATURE|BAD_CERTIFICATE/);
      return true;
    },
  );
  await assert.rejects(
    run(process.execPath, [cli, "ledger", "verify", "--db", join(dir, "missing.db")]),
    (e: { code: number }) => {
      assert.equal(e.code, 2);
      return true;
    },
  );
});
