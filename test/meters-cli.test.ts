/** gridlet replay, gridlet record and the emulator command line, run as real processes. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseMeterLog } from "../agent/meters/codec/meter-log.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const EMU = fileURLToPath(new URL("../hardware/emulators/cli.js", import.meta.url));
const LOG = fileURLToPath(new URL("../../hardware/logs/h3-family.csv", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "gridlet-meters-cli-"));
const children: ChildProcess[] = [];

after(async () => {
  for (const c of children) {
    if (c.exitCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const gridlet = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, GRIDLET_LOG_LEVEL: "warn" },
  });

test("replay prints the log's rows as JSON lines", () => {
  const r = gridlet("replay", "--file", LOG, "--speed", "1e9", "--limit", "3", "--meter", "h3");
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const rows = parseMeterLog(readFileSync(LOG, "utf8")).rows.slice(0, 3);
  assert.deepEqual(
    lines,
    rows.map((x) => ({ meter: "h3", ...x })),
  );
});

test("replay and record reject bad arguments with exit 2 and say why", () => {
  const missing = gridlet("replay", "--file", join(dir, "none.csv"));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read --file/);
  const speed = gridlet("replay", "--file", LOG, "--speed", "0");
  assert.equal(speed.status, 2);
  assert.match(speed.stderr, /--speed must be a positive number/);
  const noProfile = gridlet("record", "--out", join(dir, "x.csv"), "--rtu", "/dev/null");
  assert.equal(noProfile.status, 2);
  assert.match(noProfile.stderr, /--profile/);
  const two = gridlet("record", "--out", join(dir, "x.csv"), "--sml", "/dev/null", "--dsmr", "/dev/null");
  assert.equal(two.status, 2);
  assert.match(two.stderr, /choose one meter/);
});

test("record writes a log from an emulated SDM630 (emulator CLI with its own socat pair), and appends", async () => {
  const emu = spawn(
    process.execPath,
    [EMU, "rtu", "--profile", "sdm630", "--pair", join(dir, "pty"), "--power", "-2500"],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  children.push(emu);
  const ready = await new Promise<{ agent: string; baud: number }>((resolve, reject) => {
    emu.once("exit", (c) => reject(new Error(`emulator exited ${c}`)));
    createInterface({ input: emu.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
  });
  assert.equal(ready.baud, 9600);
  const out = join(dir, "rec.csv");
  const args = ["record", "--rtu", ready.agent, "--profile", "sdm630", "--interval", "0.1", "--out", out];
  const first = await runAsync([...args, "--count", "3"]);
  assert.equal(first.status, 0, first.stderr);
  // a fault typed on the emulator's stdin: the next answer is lost, the driver retries
  emu.stdin!.write("silent 1\n");
  const second = await runAsync([...args, "--count", "2"]);
  assert.equal(second.status, 0, second.stderr);
  const { rows, comments } = parseMeterLog(readFileSync(out, "utf8"));
  assert.equal(rows.length, 5);
  assert.match(comments[0], /recorded by gridlet record/);
  assert.ok(rows.every((r) => r.powerW === -2500));
  assert.ok(rows.every((r) => r.importWh === 1_234_567));
});

function runAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr!.on("data", (d) => {
      stderr += d;
    });
    p.once("exit", (status) => resolve({ status, stderr }));
  });
}

test("record takes its meter from a configuration file's meters: list", () => {
  const cfg = join(dir, "agent.yaml");
  writeFileSync(
    cfg,
    `meters:\n  - id: other\n    driver: sml\n    path: /dev/null\n  - id: h3\n    driver: replay\n    file: ${LOG}\n    speed: 100000\n    loop: false\n    timestamps: log\n`,
  );
  const out = join(dir, "from-config.csv");
  const r = gridlet(
    "record",
    "--config",
    cfg,
    "--meter",
    "h3",
    "--interval",
    "0.05",
    "--count",
    "3",
    "--out",
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  const { rows } = parseMeterLog(readFileSync(out, "utf8"));
  assert.equal(rows.length, 3);
  const log = parseMeterLog(readFileSync(LOG, "utf8")).rows;
  for (const row of rows) assert.ok(log.some((l) => l.ts === row.ts && l.importWh === row.importWh));
  const missing = gridlet("record", "--config", cfg, "--meter", "nope", "--out", out);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no meter with id "nope"/);
});
