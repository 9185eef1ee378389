import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../bench/harness/tmp.js";
import { gridlet, gridletAsync } from "./helpers/cli.js";

const tmp = tempDir("gridlet-cli-");
after(tmp.cleanup);

const COMMANDS = [
  "ca",
  "config",
  "agent",
  "aggregator",
  "demo",
  "record",
  "replay",
  "ledger",
  "credit",
  "bench",
];

describe("gridlet command line", () => {
  it("--help lists every command and exits 0", () => {
    const r = gridlet(["--help"]);
    assert.equal(r.status, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`gridlet ${c}\\b`), c);
  });

  it("every command has --help with an example", async () => {
    const results = await Promise.all(COMMANDS.map((c) => gridletAsync([c, "--help"])));
    for (const [i, r] of results.entries()) {
      const c = COMMANDS[i];
      assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
      assert.match(r.stdout, /Examples:/, `${c} --help shows an example`);
    }
  });

  it("an unknown command or option exits 2", () => {
    assert.equal(gridlet(["frobnicate"]).status, 2);
    const dir = join(mkdtempSync(join(tmp.dir, "t-")), "ca");
    assert.equal(gridlet(["ca", "init", "--dir", dir, "--colour", "blue"]).status, 2);
    assert.equal(existsSync(dir), false, "a rejected command does nothing");
    assert.equal(gridlet([]).status, 2);
  });

  it("ca init, issue, verify and revoke work, and a revoked certificate fails verification", () => {
    const dir = join(mkdtempSync(join(tmp.dir, "t-")), "ca");
    assert.equal(gridlet(["ca", "init", "--dir", dir]).status, 0);
    assert.equal(gridlet(["ca", "init", "--dir", dir]).status, 1, "a second init refuses to overwrite");
    const issued = gridlet([
      "ca",
      "issue",
      "--dir",
      dir,
      "--role",
      "agent",
      "--id",
      "agent-9",
      "--home",
      "agg-1",
      "--wallets",
      "3",
    ]);
    assert.equal(issued.status, 0, issued.stderr);
    assert.equal((issued.stdout.match(/gw[0-9a-f]{32}/g) ?? []).length, 3);
    const cert = join(dir, "identities", "agent-9.cert.json");
    const ok = gridlet(["ca", "verify", "--dir", dir, cert]);
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, /^valid agent "agent-9"/);
    assert.equal(gridlet(["ca", "revoke", "--dir", dir, "--id", "agent-9", "--reason", "stolen"]).status, 0);
    const nobody = gridlet(["ca", "revoke", "--dir", dir, "--id", "agent-404", "--reason", "typo"]);
    assert.equal(nobody.status, 2, "an identity this CA never issued is a wrong argument");
    assert.match(nobody.stderr, /NOT_ISSUED: no certificate was issued to "agent-404"/);
    const bad = gridlet(["ca", "verify", "--dir", dir, cert]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /REVOKED_SENDER/);
  });

  it("usage errors of ca exit 2: agent without home", () => {
    const dir = join(mkdtempSync(join(tmp.dir, "t-")), "ca");
    gridlet(["ca", "init", "--dir", dir]);
    const r = gridlet(["ca", "issue", "--dir", dir, "--role", "agent", "--id", "a1"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /home aggregator/);
  });

  it("a key file readable by others is refused with a clear message", () => {
    const dir = join(mkdtempSync(join(tmp.dir, "t-")), "ca");
    gridlet(["ca", "init", "--dir", dir]);
    chmodSync(join(dir, "ca.key"), 0o644);
    const r = gridlet(["ca", "issue", "--dir", dir, "--role", "aggregator", "--id", "agg-1"]);
    assert.equal(r.status, 2, "a key file problem is a configuration error");
    assert.match(r.stderr, /KEY_FILE_PERMISSIONS: .*chmod 600/);
  });
});
