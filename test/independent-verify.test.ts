/**
 * Checks docs/PROTOCOL.md: a verifier written from the document alone, with @noble/ed25519 called directly
 * and a canonical JSON writer of its own (sorted keys, no spaces), accepts what gridlet produces.
 * The first part deliberately imports nothing from protocol/ except to produce the envelope under test;
 * the second builds forged ledgers with the project's own code and checks them with tools/verify_ledger.py.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as ed from "@noble/ed25519";
import { signConsortium } from "../aggregator/consensus/consortium.js";
import {
  blockHash,
  GENESIS_PREV,
  headerBytes,
  type LedgerEntry,
  linkHash,
  voteBytes,
} from "../aggregator/ledger/block.js";
import { checkpointSigningBytes } from "../aggregator/ledger/checkpoint-bytes.js";
import { merkleRoot } from "../aggregator/ledger/merkle.js";
import type { CheckpointRecord } from "../aggregator/ledger/store.js";
import { sysEnvelope } from "../aggregator/node/envelopes.js";
import { LedgerMachine } from "../aggregator/node/machine.js";
import { type AuditLedger, buildAuditLedger } from "../bench/harness/audit-ledger.js";
import { seededRandom } from "../bench/harness/credit-world.js";
import { GRIDLET_MAIN, REPO_ROOT } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";
import { toHex } from "../protocol/bytes.js";
import { CaDirectory } from "../protocol/ca-dir.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";
import { signEnvelope } from "../protocol/envelope.js";
import { readKeyFile } from "../protocol/keyfile.js";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

function jcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function verifyPerDocument(domain: string, signed: Record<string, unknown>, publicKeyHex: string): boolean {
  const { sig, ...rest } = signed;
  const bytes = new TextEncoder().encode(`${domain}\n${jcs(rest)}`);
  return ed.verify(Buffer.from(String(sig), "hex"), bytes, Buffer.from(publicKeyHex, "hex"));
}

const cli = GRIDLET_MAIN;

describe("independent verification following docs/PROTOCOL.md", () => {
  const { dir, cleanup } = tempDir("gridlet-indep-");
  after(cleanup);
  const caDir = join(dir, "ca");
  execFileSync(process.execPath, [cli, "ca", "init", "--dir", caDir]);
  execFileSync(process.execPath, [
    cli,
    "ca",
    "issue",
    "--dir",
    caDir,
    "--role",
    "agent",
    "--id",
    "agent-7",
    "--home",
    "agg-1",
  ]);
  const caCert = JSON.parse(readFileSync(join(caDir, "ca.cert.json"), "utf8"));
  const cert = JSON.parse(readFileSync(join(caDir, "identities", "agent-7.cert.json"), "utf8"));

  it("verifies the CA's self-signed certificate and an issued certificate", () => {
    assert.equal(verifyPerDocument("gridlet/certificate/v1", caCert, caCert.publicKey), true);
    assert.equal(verifyPerDocument("gridlet/certificate/v1", cert, caCert.publicKey), true);
    assert.equal(
      verifyPerDocument("gridlet/certificate/v1", { ...cert, home: "agg-2" }, caCert.publicKey),
      false,
    );
    assert.equal(
      verifyPerDocument("gridlet/envelope/v1", cert, caCert.publicKey),
      false,
      "domain separation",
    );
  });

  it("verifies the revocation list after a revocation", () => {
    execFileSync(process.execPath, [
      cli,
      "ca",
      "revoke",
      "--dir",
      caDir,
      "--id",
      "agent-7",
      "--reason",
      "test",
    ]);
    const crl = JSON.parse(readFileSync(join(caDir, "revocations.json"), "utf8"));
    assert.equal(crl.version, 2);
    assert.equal(verifyPerDocument("gridlet/revocations/v1", crl, caCert.publicKey), true);
  });

  it("verifies an envelope signed with an issued key, with nested and unicode bodies", () => {
    const key = readKeyFile(join(caDir, "identities", "agent-7.key"));
    const e = signEnvelope(
      {
        type: "order",
        from: "agent-7",
        seq: 3,
        ts: 1_767_225_600_123,
        body: { z: [1, { b: "é€", a: null }], a: true },
      },
      key.seed,
    );
    const wire = JSON.parse(JSON.stringify(e));
    assert.equal(verifyPerDocument("gridlet/envelope/v1", wire, cert.publicKey), true);
    assert.equal(verifyPerDocument("gridlet/envelope/v1", { ...wire, seq: 4 }, cert.publicKey), false);
  });
});

/**
 * The audit from the CA alone (docs/PROTOCOL-BLOCKS.md, "Auditing from the CA"): an exported ledger
 * verifies with `gridlet ledger verify --ca` and with tools/verify_ledger.py, an independent Python
 * implementation with its own ed25519 and RFC 8785; a copy re-keyed and re-signed throughout with a
 * forged mint, and a block signed by a member that does not lead its slot, fail both.
 */
describe("audit of a ledger export from the CA certificate alone", () => {
  const dir = mkdtempSync(join(tmpdir(), "gridlet-audit-"));
  after(() => (process.env.KEEP ? console.log(dir) : rmSync(dir, { recursive: true, force: true })));
  const python = join(REPO_ROOT, "tools", "verify_ledger.py");
  let L: AuditLedger;
  let exportFile: string;

  const gridletRun = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const pyRun = (file: string) => {
    const r = spawnSync("python3", ["-B", python, "--ca", L.caCertFile, file, "--json"], {
      encoding: "utf8",
      timeout: 300_000,
    });
    return {
      code: r.status,
      out: r.stdout.trim() === "" ? undefined : JSON.parse(r.stdout),
      stderr: r.stderr,
    };
  };
  const readExport = (file: string) =>
    readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const writeExport = (name: string, lines: Record<string, unknown>[]) => {
    const f = join(dir, name);
    writeFileSync(f, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    return f;
  };

  before(async () => {
    L = await buildAuditLedger(dir);
    exportFile = join(dir, "eag0.jsonl");
    const r = gridletRun([
      "ledger",
      "export",
      "--db",
      L.dbs[0],
      "--readings",
      ...L.stores,
      "--out",
      exportFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
  });

  it("the export carries the meta, the CA-signed files and the checkpoints, and verifies in both", () => {
    const lines = readExport(exportFile);
    const header = lines[0] as {
      kind: string;
      meta: { members: unknown[] };
      consortium: unknown;
      genesis: unknown;
    };
    assert.equal(header.kind, "header");
    assert.equal(header.meta.members.length, 4);
    assert.deepEqual(header.consortium, JSON.parse(JSON.stringify(L.c.consortiumFile)));
    assert.deepEqual(header.genesis, JSON.parse(readFileSync(L.c.genesisFile, "utf8")));
    const checkpoints = lines.filter((l) => l.kind === "checkpoint");
    assert.ok(checkpoints.length > 0, "checkpoints exported");

    const ts = gridletRun(["ledger", "verify", "--export", exportFile, "--ca", L.caCertFile, "--json"]);
    assert.equal(ts.code, 0, ts.stderr);
    const report = JSON.parse(ts.stdout);
    assert.equal(report.anchored, true);
    assert.equal(report.consortium, "test");
    assert.ok(report.stateHash, "re-executed from the CA-signed genesis");
    assert.equal(report.checkpointsChecked, checkpoints.length);
    // a CA certificate that is missing, or not a CA's, is a usage error; so is naming no ledger
    const usage = [
      ["ledger", "verify", "--export", exportFile, "--ca", join(dir, "missing.json")],
      ["ledger", "verify", "--export", exportFile, "--ca", join(dir, "agents", "alice.cert.json")],
      ["ledger", "verify", "--ca", L.caCertFile],
    ];
    for (const args of usage) {
      const r = gridletRun(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /--ca|--db FILE or --export FILE/);
    }
    const fromDb = gridletRun(["ledger", "verify", "--db", L.dbs[1], "--ca", L.caCertFile, "--json"]);
    assert.equal(fromDb.code, 0, fromDb.stderr);
    assert.equal(JSON.parse(fromDb.stdout).anchored, true);

    const py = pyRun(exportFile);
    assert.equal(py.code, 0, py.stderr + JSON.stringify(py.out));
    assert.equal(py.out.blocks, report.blocks);
    assert.equal(py.out.transactions, report.transactions);
    assert.equal(py.out.lastLink, report.lastLink);
    assert.equal(py.out.checkpointsChecked, report.checkpointsChecked);
    // every meter summary rebuilt from the signed readings: 5 kWh then 1 kWh exported, 1 kWh imported
    assert.equal(py.out.summariesChecked, 3);
    assert.equal(py.out.provenExportWh, 6_000);
    assert.equal(py.out.provenImportWh, 1_000);
    assert.deepEqual(report.evidence, {
      summariesChecked: 3,
      summariesUnsigned: 0,
      provenImportWh: 1_000,
      provenExportWh: 6_000,
      readings: py.out.readings,
    });
  });

  /** Re-signs every block, certificate and checkpoint of an export with `seeds`, relinking the chain. */
  function resign(
    lines: Record<string, unknown>[],
    seeds: Map<string, Uint8Array>,
    stateHashAt?: (round: number) => string,
  ): Record<string, unknown>[] {
    const sign = (who: string, bytes: Uint8Array) => toHex(defaultEd25519.sign(bytes, seeds.get(who)!));
    let prev = GENESIS_PREV;
    const links: string[] = [];
    const out: Record<string, unknown>[] = [];
    for (const l of lines) {
      if (l.kind === "block") {
        const e = l as unknown as LedgerEntry & { kind: string };
        const h = e.block.header;
        h.txRoot = merkleRoot(e.block.txs);
        h.txCount = e.block.txs.length;
        e.block.sig = sign(h.proposer, headerBytes(h));
        const hash = blockHash(h);
        // each vote re-signed alone (the batches it was signed in are not in the export)
        for (const v of e.qc.votes) {
          delete v.batch;
          v.sig = sign(v.from, voteBytes("commit", h.round, h.index, e.qc.view, hash));
        }
        e.prev = prev;
        e.link = linkHash(e.seq, prev, hash);
        prev = e.link;
        links.push(e.link);
      } else if (l.kind === "checkpoint") {
        const c = l as unknown as CheckpointRecord;
        c.link = links[c.round * 4 - 1];
        if (stateHashAt) c.stateHash = stateHashAt(c.round);
        for (const s of c.sigs) s.sig = sign(s.from, checkpointSigningBytes(c.round, c.stateHash, c.link));
      }
      out.push(l);
    }
    return out;
  }

  it("a copy re-keyed and re-signed throughout, with a forged mint, fails both", () => {
    const random = seededRandom("attacker");
    const seeds = new Map(L.c.members.map((m) => [m.id, random(32)]));
    const rekeyed = L.c.members.map((m) => ({
      id: m.id,
      publicKey: toHex(defaultEd25519.publicKey(seeds.get(m.id)!)),
    }));
    const lines = readExport(exportFile);
    const blocks = lines.filter((l) => l.kind === "block") as unknown as LedgerEntry[];
    const target = blocks[blocks.length - 4]; // a block of lane 0: eag0 proposes it
    assert.equal(target.block.header.proposer, "eag0");
    const mint = sysEnvelope(
      {
        id: "eag0:forged-mint",
        type: "mint",
        sender: "eag0",
        body: { wallet: L.agents[0].wallet, amountMc: 1_000_000, reason: "mint" },
      },
      1,
      target.block.header.time,
      { id: "eag0", seed: seeds.get("eag0")! },
    );
    target.block.txs.push(JSON.parse(JSON.stringify(mint)));
    // every aggregator-signed transaction (registrations, system transactions) re-signed too
    for (const e of blocks)
      e.block.txs = e.block.txs.map((tx) => {
        const env = tx as { type: string; from: string; seq: number; ts: number; body: unknown };
        const seed = seeds.get(env.from);
        if (seed === undefined) return tx;
        const { type, from, seq, ts, body } = env;
        return JSON.parse(JSON.stringify(signEnvelope({ type, from, seq, ts, body }, seed)));
      });
    // the forger re-executes its copy to sign checkpoints that match it
    const machine = LedgerMachine.fromGenesis({ ...L.c.genesis, authorities: rekeyed });
    const hashes = new Map<number, string>();
    let minted = false;
    for (const e of blocks) {
      const h = e.block.header;
      for (const tx of e.block.txs) {
        const r = machine.apply(tx, { time: h.time, height: e.seq, proposer: h.proposer });
        if (tx === target.block.txs.at(-1)) minted = r.ok;
      }
      if ((e.seq + 1) % 4 === 0) hashes.set((e.seq + 1) / 4, machine.stateHash());
    }
    assert.ok(minted, "the forged mint is valid under the forged keys");
    const forged = resign(lines, seeds, (round) => hashes.get(round)!);
    (forged[0].meta as { members: unknown }).members = rekeyed;
    const file = writeExport("rekeyed.jsonl", forged);

    // what the ledger says about itself is all consistent: without the CA the forgery passes
    const selfOnly = gridletRun(["ledger", "verify", "--export", file, "--json"]);
    assert.equal(selfOnly.code, 0, selfOnly.stderr);
    assert.equal(JSON.parse(selfOnly.stdout).anchored, false);

    const ts = gridletRun(["ledger", "verify", "--export", file, "--ca", L.caCertFile]);
    assert.equal(ts.code, 1, ts.stdout);
    assert.match(ts.stderr, /STORE_MISMATCH.*other members or keys/);
    const py = pyRun(file);
    assert.equal(py.code, 1, py.stderr);
    assert.equal(py.out.code, "STORE_MISMATCH");

    // the same forgery keeping the original meta: the first signature gives it away
    forged[0].meta = readExport(exportFile)[0].meta;
    const file2 = writeExport("rekeyed-meta.jsonl", forged);
    const ts2 = gridletRun(["ledger", "verify", "--export", file2, "--ca", L.caCertFile]);
    assert.equal(ts2.code, 1, ts2.stdout);
    assert.match(ts2.stderr, /BAD_PROPOSER_SIGNATURE|BAD_CERTIFICATE: checkpoint/);
    const py2 = pyRun(file2);
    assert.equal(py2.code, 1);
    assert.equal(py2.out.code, "BAD_PROPOSER_SIGNATURE");

    // and with a consortium file of the forger's own: not signed by the auditor's CA
    const other = new CaDirectory(join(dir, "forger-ca"));
    other.init("forger-ca");
    forged[0].consortium = signConsortium(
      {
        ...L.c.consortiumFile.consortium,
        members: L.c.consortiumFile.consortium.members.map((m, i) => ({
          ...m,
          publicKey: rekeyed[i].publicKey,
        })),
      },
      readKeyFile(other.keyPath).seed,
      defaultEd25519,
    );
    const file3 = writeExport("rekeyed-consortium.jsonl", forged);
    const ts3 = gridletRun(["ledger", "verify", "--export", file3, "--ca", L.caCertFile]);
    assert.equal(ts3.code, 1, ts3.stdout);
    assert.match(ts3.stderr, /CONSORTIUM_SIGNATURE/);
    assert.equal(pyRun(file3).out.code, "CONSORTIUM_SIGNATURE");
  });

  /** State hashes at every round's end, re-executing the given blocks from the genesis. */
  function stateHashes(blocks: LedgerEntry[], applied = new Map<unknown, boolean>()): Map<number, string> {
    const machine = LedgerMachine.fromGenesis(L.c.genesis);
    const hashes = new Map<number, string>();
    for (const e of blocks) {
      const h = e.block.header;
      for (const tx of e.block.txs)
        applied.set(tx, machine.apply(tx, { time: h.time, height: e.seq, proposer: h.proposer }).ok);
      if ((e.seq + 1) % 4 === 0) hashes.set((e.seq + 1) / 4, machine.stateHash());
    }
    return hashes;
  }

  it("a phantom summary that its home put into the ledger is found from the readings export", () => {
    const seeds = new Map(L.c.members.map((m) => [m.id, m.seed]));
    const lines = readExport(exportFile);
    const blocks = lines.filter((l) => l.kind === "block") as unknown as LedgerEntry[];
    const sam = L.agents[1];
    // the interval before the trade: sam's readings show nothing exported (its edge readings have the
    // same registers); sam signs 50 kWh and eag1, its home, does not check: the summary is consistent
    // with itself, so the ledger machine records it
    const interval = Math.floor(sam.meters.readings[0].ts / 60_000) + 1;
    const edges = sam.meters.readings.filter(
      (r) => r.ts === interval * 60_000 || r.ts === (interval + 1) * 60_000,
    );
    assert.equal(edges.length, 2);
    assert.equal(edges[0].exportWh, edges[1].exportWh, "no export in the interval");
    const last = edges[0];
    const phantom = sam.sign(
      "meter.summary",
      {
        interval,
        importWh: 0,
        exportWh: 50_000,
        readings: 2,
        meters: [
          {
            meter: "m1",
            count: 2,
            root: "ab".repeat(32),
            first: { seq: last.seq, ts: last.ts, importWh: last.importWh, exportWh: last.exportWh },
            last: {
              seq: last.seq + 100,
              ts: last.ts + 60_000,
              importWh: last.importWh,
              exportWh: last.exportWh + 50_000,
            },
          },
        ],
      },
      blocks.at(-1)!.block.header.time,
    );
    const target = blocks.at(-3)!; // lane 1: eag1's block
    assert.equal(target.block.header.proposer, "eag1");
    target.block.txs.push(JSON.parse(JSON.stringify(phantom)));
    const applied = new Map<unknown, boolean>();
    const hashes = stateHashes(blocks, applied);
    assert.equal(
      applied.get(target.block.txs.at(-1)),
      true,
      "the ledger machine recorded the phantom energy",
    );
    const file = writeExport(
      "phantom.jsonl",
      resign(lines, seeds, (round) => hashes.get(round)!),
    );
    // every signature is a real member's: the ledger itself is sound, only the evidence is not
    const ts = gridletRun(["ledger", "verify", "--export", file, "--ca", L.caCertFile]);
    assert.equal(ts.code, 1, ts.stdout);
    assert.match(ts.stderr, new RegExp(`SUMMARY_MISMATCH: summary sam:${phantom.seq} .*meter m1`));
    const py = pyRun(file);
    assert.equal(py.code, 1, JSON.stringify(py.out));
    assert.equal(py.out.code, "SUMMARY_MISMATCH");
    assert.match(py.out.error, new RegExp(`summary sam:${phantom.seq} .*meter m1`));
  });

  it("a block proposed by a member that does not lead its slot fails both", () => {
    const seeds = new Map(L.c.members.map((m) => [m.id, m.seed]));
    const lines = readExport(exportFile);
    const blocks = lines.filter((l) => l.kind === "block") as unknown as LedgerEntry[];
    const ids = L.c.members.map((m) => m.id);
    const target = blocks.find((e) => e.block.header.index === 2 && e.block.txs.length === 0 && e.seq > 4)!;
    // the slot's leader is member (lane + view) mod n: a view change under load moves it along
    const { index, view } = target.block.header;
    const leader = ids[(index + view) % ids.length];
    assert.equal(target.block.header.proposer, leader);
    const impostor = ids[(index + view + 1) % ids.length];
    target.block.header.proposer = impostor;
    const file = writeExport("wrong-leader.jsonl", resign(lines, seeds));
    const ts = gridletRun(["ledger", "verify", "--export", file, "--ca", L.caCertFile]);
    assert.equal(ts.code, 1, ts.stdout);
    assert.match(
      ts.stderr,
      new RegExp(`WRONG_LEADER.*block ${target.seq} .*proposed by ${impostor}, but its leader is ${leader}`),
    );
    const py = pyRun(file);
    assert.equal(py.code, 1);
    assert.equal(py.out.code, "WRONG_LEADER");
  });
});
