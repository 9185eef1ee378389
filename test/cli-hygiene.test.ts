/**
 * Command-line hygiene (issue 13, item 7): a closed pipe is not an error, the demo never wipes a directory
 * it did not make, numbers are validated, configuration errors name their file, field, value and variable,
 * and long commands show progress only on a terminal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { LedgerEntry } from "../aggregator/ledger/block.js";
import { BlockStore } from "../aggregator/ledger/store.js";
import { GRIDLET_MAIN } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";
import { DEMO_MARKER, prepareDemoDir } from "../cli/demo/workdir.js";
import { Progress } from "../cli/progress.js";
import { gridlet } from "./helpers/cli.js";

const tmp = tempDir("gridlet-cli-hygiene-");
after(() => tmp.cleanup());

/** Runs gridlet with stdout on a pipe that the reader closes after the first chunk, as `| head` does. */
function firstChunkThenClose(
  args: string[],
): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GRIDLET_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let first = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.once("data", (d: Buffer) => {
      first = d.toString();
      child.stdout.destroy();
    });
    child.once("exit", (code) => resolve({ code, stderr, first }));
  });
}

describe("a reader that stops reading (| head)", () => {
  it("replay exits 0 without a word on stderr", async () => {
    const r = await firstChunkThenClose([
      "replay",
      "--file",
      "hardware/logs/h1-pv-family.csv",
      "--speed",
      "1e9",
    ]);
    assert.match(r.first, /^\{"meter":"replay"/);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
  });

  it("ledger export exits 0 without a word on stderr", async () => {
    const db = join(tmp.dir, "ledger.db");
    const store = new BlockStore(db);
    // Stored entries are exported as they are; 3000 of about 300 bytes overflow any pipe buffer.
    let prev = "0".repeat(64);
    for (let seq = 0; seq < 3000; seq++) {
      const link = seq.toString(16).padStart(64, "0");
      const entry = {
        seq,
        prev,
        link,
        block: { header: { round: seq, index: 0 }, txs: ["x".repeat(100)] },
        qc: {},
      } as unknown as LedgerEntry;
      store.append(entry, link);
      prev = link;
    }
    store.close();
    const r = await firstChunkThenClose(["ledger", "export", "--db", db]);
    assert.match(r.first, /^\{"kind":"header","format":"gridlet-ledger-export\/v1"/);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
  });
});

describe("demo --dir", () => {
  it("refuses a non-empty directory it did not make, and touches nothing in it", () => {
    const dir = join(tmp.dir, "real-ca");
    mkdirSync(join(dir, "ca"), { recursive: true });
    writeFileSync(join(dir, "ca", "ca.key"), "precious");
    const r = gridlet(["demo", "--dir", dir, "--duration", "10"]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /not a directory made by gridlet demo/);
    assert.equal(readFileSync(join(dir, "ca", "ca.key"), "utf8"), "precious");
    assert.equal(existsSync(join(dir, DEMO_MARKER)), false);
  });

  it("makes a new directory with its marker, and empties one that has it", () => {
    const dir = join(tmp.dir, "demo");
    prepareDemoDir(dir);
    assert.ok(existsSync(join(dir, DEMO_MARKER)));
    writeFileSync(join(dir, "old-run.txt"), "x");
    prepareDemoDir(dir);
    assert.equal(existsSync(join(dir, "old-run.txt")), false);
    assert.ok(existsSync(join(dir, DEMO_MARKER)));
    const empty = join(tmp.dir, "empty");
    mkdirSync(empty);
    prepareDemoDir(empty);
    assert.ok(existsSync(join(empty, DEMO_MARKER)), "an empty directory is fine");
  });
});

describe("ca issue and ca init validate --days", () => {
  const ca = join(tmp.dir, "ca");
  it("rejects -1, 1e12, 1.5 and 0 with exit 2; accepts 365", () => {
    assert.equal(gridlet(["ca", "init", "--dir", ca]).status, 0);
    for (const days of ["-1", "1e12", "1.5", "0"]) {
      const r = gridlet(["ca", "issue", "--dir", ca, "--role", "aggregator", "--id", "g1", "--days", days]);
      assert.equal(r.status, 2, `--days ${days}: ${r.stderr}`);
      assert.match(r.stderr, /--days: got .*, expected a whole number of days from 1 to 3650/);
    }
    assert.equal(existsSync(join(ca, "identities", "g1.key")), false, "nothing issued");
    assert.equal(
      gridlet(["ca", "issue", "--dir", ca, "--role", "aggregator", "--id", "g1", "--days", "365"]).status,
      0,
    );
    assert.equal(gridlet(["ca", "init", "--dir", join(tmp.dir, "ca2"), "--days", "99999999"]).status, 2);
  });
});

describe("progress of long commands", () => {
  const clock = { t: 0 };
  const ticks: (() => void)[] = [];
  const timers = {
    now: () => clock.t,
    every: (_ms: number, fn: () => void) => {
      ticks.push(fn);
      return () => ticks.splice(ticks.indexOf(fn), 1);
    },
  };

  it("on a terminal: the step and its seconds, rewritten in place on stderr", () => {
    let out = "";
    const p = new Progress(2, { isTTY: true, write: (s: string) => (out += s) }, timers);
    p.step(0, "consensus");
    clock.t = 3000;
    for (const f of ticks) f();
    p.done();
    assert.equal(
      out,
      "\r\x1b[K[1/2] consensus 0 s\r\x1b[K[1/2] consensus 3 s\r\x1b[K[1/2] consensus 3 s done\n",
    );
    assert.equal(ticks.length, 0, "the ticker stops");
  });

  it("not on a terminal: nothing", () => {
    let out = "";
    const p = new Progress(1, { isTTY: false, write: (s: string) => (out += s) }, timers);
    p.step(0, "crypto");
    p.done();
    assert.equal(out, "");
  });

  it("bench --list through a pipe prints only the names", () => {
    const r = gridlet(["bench", "--list"]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^crypto$/m);
  });
});

describe("bench consortium-scale options", () => {
  it("refuses a slot timeout that the members' configuration would refuse, with exit 2 and its name", () => {
    for (const v of ["2.5", "5", "-1"]) {
      const r = gridlet(["bench", "consortium-scale", "--slot-timeout-ms", v]);
      assert.equal(r.status, 2, `--slot-timeout-ms ${v}: ${r.stderr}`);
      assert.match(r.stderr, /--slot-timeout-ms/);
    }
  });
});
