import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { stringify } from "#yaml";
import { loadConsortiumFile } from "../aggregator/consensus/consortium.js";
import { loadGenesisFile } from "../aggregator/node/genesis.js";
import { runGridlet } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";
import { CaDirectory } from "../protocol/ca-dir.js";
import { defaultEd25519 } from "../protocol/crypto/index.js";

/** The CA founds a consortium from the command line, as docs/CONSORTIUM.md describes. */
const tmp = tempDir();
after(() => tmp.cleanup());

test("gridlet aggregator consortium / genesis: CA-signed files the aggregators load", {
  timeout: 180_000,
}, async () => {
  const caDir = join(tmp.dir, "ca");
  assert.equal((await runGridlet(["ca", "init", "--dir", caDir])).code, 0);
  for (const id of ["eag0", "eag1", "eag2", "eag3"]) {
    const r = await runGridlet(["ca", "issue", "--dir", caDir, "--role", "aggregator", "--id", id]);
    assert.equal(r.code, 0, r.stderr);
  }
  const consortiumFile = join(tmp.dir, "consortium.json");
  const members = [0, 1, 2, 3].flatMap((i) => ["--member", `eag${i}=mqtt://127.0.0.1:${18830 + i}`]);
  const c = await runGridlet([
    "aggregator",
    "consortium",
    "--ca-dir",
    caDir,
    "--name",
    "grid",
    ...members,
    "--out",
    consortiumFile,
  ]);
  assert.equal(c.code, 0, c.stderr);
  const ca = new CaDirectory(caDir);
  const caKey = Buffer.from(ca.caCertificate().publicKey, "hex");
  const consortium = loadConsortiumFile(consortiumFile, caKey, defaultEd25519);
  assert.deepEqual(
    consortium.members.map((m) => [m.id, m.broker]),
    [0, 1, 2, 3].map((i) => [`eag${i}`, `mqtt://127.0.0.1:${18830 + i}`]),
  );

  const params = join(tmp.dir, "ledger.yaml");
  writeFileSync(params, "trading:\n  intervalMs: 60000\nbanks:\n  eag0:\n    fundsMc: 5000000\n");
  const genesisFile = join(tmp.dir, "genesis.json");
  const g = await runGridlet([
    "aggregator",
    "genesis",
    "--ca-dir",
    caDir,
    "--consortium",
    consortiumFile,
    "--params",
    params,
    "--out",
    genesisFile,
  ]);
  assert.equal(g.code, 0, g.stderr);
  const genesis = loadGenesisFile(genesisFile, {
    members: consortium.members,
    consortium: "grid",
    caPublicKey: caKey,
  });
  assert.equal(genesis.trading.intervalMs, 60_000);
  assert.equal(genesis.banks.eag0.fundsMc, 5_000_000);
  assert.equal(
    genesis.banks.eag0.publicKey,
    consortium.members[0].publicKey,
    "the bank's key is its identity key",
  );

  // a member the CA never issued, a bank outside the consortium, a missing option: named
  const bad = await runGridlet([
    "aggregator",
    "consortium",
    "--ca-dir",
    caDir,
    "--name",
    "x",
    "--member",
    "eag9=mqtt://127.0.0.1:1",
    "--out",
    join(tmp.dir, "x.json"),
  ]);
  assert.equal(bad.code, 2, "a consortium naming a member the CA never issued is a usage error");
  assert.match(bad.stderr, /eag9/);
  writeFileSync(params, "banks:\n  eag7:\n    fundsMc: 1\n");
  const badBank = await runGridlet([
    "aggregator",
    "genesis",
    "--ca-dir",
    caDir,
    "--consortium",
    consortiumFile,
    "--params",
    params,
    "--out",
    join(tmp.dir, "y.json"),
  ]);
  assert.equal(badBank.code, 2, "a genesis naming a bank outside the consortium is a usage error");
  assert.match(badBank.stderr, /banks\.eag7/);
  // an aggregator that is not a member, and a ledger configuration without its genesis, are refused
  const r = await runGridlet(["ca", "issue", "--dir", caDir, "--role", "aggregator", "--id", "eag4"]);
  assert.equal(r.code, 0, r.stderr);
  const id = join(caDir, "identities");
  const config = (extra: Record<string, unknown>) => {
    const path = join(tmp.dir, `eag4-${Object.keys(extra).length}.yaml`);
    writeFileSync(
      path,
      stringify({
        version: 1,
        id: "eag4",
        identity: { key: join(id, "eag4.key"), cert: join(id, "eag4.cert.json"), ca: ca.certPath },
        broker: { embedded: { host: "127.0.0.1", port: 0 } },
        store: { path: join(tmp.dir, "eag4.sqlite") },
        consortium: { file: consortiumFile },
        ...extra,
      }),
    );
    return path;
  };
  const outsider = await runGridlet(["aggregator", "--config", config({ genesis: { file: genesisFile } })]);
  assert.equal(outsider.code, 2, outsider.stderr);
  assert.match(outsider.stderr, /NOT_A_MEMBER/);
  const halfConfigured = await runGridlet(["aggregator", "--config", config({})]);
  assert.equal(halfConfigured.code, 2, halfConfigured.stderr);
  assert.match(halfConfigured.stderr, /consortium and genesis go together/);

  const external = await runGridlet([
    "aggregator",
    "--config",
    config({ genesis: { file: genesisFile }, broker: { url: "mqtt://127.0.0.1:1" } }),
  ]);
  assert.equal(external.code, 2, external.stderr);
  assert.match(external.stderr, /embedded broker/);

  const usage = await runGridlet(["aggregator", "genesis", "--ca-dir", caDir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--out/);
});
