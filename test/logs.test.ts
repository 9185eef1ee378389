/**
 * Logs as an operator sees them (issue 13, item 6): journald priorities when stderr is the journal stream,
 * a wrong log setting refused at start, and a silent meter reported once instead of on every retry.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getProfile } from "../agent/meters/profiles/load.js";
import { writeAgentConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { AGENT_SERVICE_MAIN, GRIDLET_MAIN, spawnAgentService } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { PtyPair } from "../hardware/emulators/pty.js";
import { RtuMeterEmulator } from "../hardware/emulators/rtu.js";
import { fixedState } from "../hardware/emulators/state.js";
import { gridlet } from "./helpers/cli.js";

describe("logs", { timeout: 120_000 }, () => {
  const tmp = tempDir("gridlet-logs-");
  let pki: TestPki;
  before(() => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
  });
  after(() => tmp.cleanup());

  it("a wrong GRIDLET_LOG_LEVEL exits 2 naming it, in the CLI and in the agent's service entry", () => {
    const cli = gridlet(["ca", "init", "--dir", join(tmp.dir, "never")], {
      env: { GRIDLET_LOG_LEVEL: "loud" },
    });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(
      cli.stderr,
      /GRIDLET_LOG_LEVEL: got "loud", expected one of trace, debug, info, warn, error, silent/,
    );
    const fmt = gridlet(["--help"], { env: { GRIDLET_LOG_FORMAT: "xml" } });
    assert.equal(fmt.status, 2);
    assert.match(fmt.stderr, /GRIDLET_LOG_FORMAT: got "xml"/);
    const agent = gridlet(["--version"], { env: { GRIDLET_LOG_LEVEL: "" } });
    assert.equal(agent.status, 0, "an empty value is the default");
  });

  it("the agent's service entry refuses a wrong level before reading its configuration", async () => {
    const p = spawnAgentService(join(tmp.dir, "missing.yaml"), [], { GRIDLET_LOG_LEVEL: "chatty" });
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /GRIDLET_LOG_LEVEL: got "chatty"/);
    assert.ok(AGENT_SERVICE_MAIN.endsWith("main.js"));
  });

  it("with stderr on the journal stream, every line carries its sd-daemon priority", async () => {
    const dir = join(tmp.dir, "journal");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    // No broker listens there: the agent warns about it (and logs its start at info).
    const config = writeAgentConfig(dir, pki, 0, { url: `mqtt://127.0.0.1:${await freePort()}` });
    const file = join(dir, "stderr");
    const fd = openSync(file, "w");
    const st = fstatSync(fd);
    const child = spawn(process.execPath, [GRIDLET_MAIN, "agent", "--config", config], {
      env: { ...process.env, GRIDLET_LOG_LEVEL: "info", JOURNAL_STREAM: `${st.dev}:${st.ino}` },
      stdio: ["ignore", "ignore", fd],
    });
    closeSync(fd);
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor("a warning in the journal file", () => /^<4>/m.test(readFileSync(file, "utf8")));
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const lines = readFileSync(file, "utf8").trim().split("\n");
    for (const l of lines) {
      const m = /^<([0-7])>(\{.*\})$/.exec(l);
      assert.ok(m, `not a journald line: ${l}`);
      const body = JSON.parse(m[2]);
      assert.equal(m[1], { error: "3", warn: "4", info: "6", debug: "7" }[body.level as string]);
      assert.equal(body.time, undefined, "journald stamps lines itself");
    }
    assert.ok(
      lines.some((l) => l.startsWith("<6>")),
      "info lines too",
    );
    // The same variable inherited by a process whose stderr is a pipe changes nothing.
    const piped = gridlet(["agent", "--config", join(dir, "nope.yaml")], {
      env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    });
    assert.doesNotMatch(piped.stderr, /^</);
  });

  it("a silent meter: one warning for the outage, not one per reopen of the port", async () => {
    const dir = join(tmp.dir, "silent");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir);
    const pty = await PtyPair.start(dir);
    // The emulator answers unit 1 only; the agent asks unit 7, as with a wrong address or a dead meter.
    const emu = await RtuMeterEmulator.start({
      link: pty.meter,
      line: { baud: 9600 },
      devices: [{ unit: 1, profile: getProfile("sdm120"), state: fixedState({ importWh: 1000 }).get }],
    });
    const config = writeAgentConfig(dir, pki, 0, {
      url: `mqtt://127.0.0.1:${await freePort()}`,
      intervalMs: 200,
      meters: [
        {
          id: "dead",
          driver: "modbus-rtu",
          path: pty.agent,
          baud: 9600,
          unitId: 7,
          profile: "sdm120",
          timeoutMs: 100,
          retries: 0,
        },
      ],
    });
    const agent = spawnAgentService(config, [], { GRIDLET_LOG_LEVEL: "debug", GRIDLET_LOG_FORMAT: "text" });
    try {
      // The port is dropped and reopened again and again; each cycle is now a debug line.
      await agent.waitForOutput(/(serial port dropped again[\s\S]*){3}/, 60_000);
    } finally {
      await agent.stop();
      await emu.stop();
      await pty.kill();
    }
    const out = agent.output().split("\n");
    const count = (level: string, msg: string) =>
      out.filter((l) => l.includes(` ${level.padEnd(5)} `) && l.includes(msg)).length;
    assert.equal(count("WARN", "serial port dropped"), 1, agent.output());
    assert.equal(count("INFO", "serial port open"), 1, "the first open only");
    assert.ok(count("DEBUG", "serial port open") >= 3, "reopens are still visible at debug");
    const failed = count("WARN", "meter read failed");
    assert.ok(failed >= 1 && failed <= 2, `meter read failed logged ${failed} times`);
    assert.equal(count("WARN", "mqtt error"), 1, "the absent broker is reported once too");
    for (const l of out.filter((x) => x.length > 0))
      assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, l);
  });
});
