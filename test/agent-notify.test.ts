import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { writeAgentConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki } from "../bench/harness/pki.js";
import { spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";

const count = (s: string, word: string) => s.split(word).length - 1;

describe("systemd notification", { timeout: 60_000 }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("READY=1 at start; WATCHDOG=1 only while readings are stored", async () => {
    assert.ok(existsSync("/usr/bin/systemd-notify"), "systemd-notify is installed");
    const pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    // A real unix datagram socket standing in for systemd's, read by socat.
    const sock = join(tmp.dir, "notify.sock");
    const listener = spawn("/usr/bin/socat", ["-u", `UNIX-RECV:${sock}`, "STDOUT"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let got = "";
    listener.stdout.on("data", (d: Buffer) => {
      got += d.toString();
    });
    await waitFor("the notify socket", () => existsSync(sock));
    // No broker at all: storing readings is what feeds the watchdog, not the network.
    const config = writeAgentConfig(tmp.dir, pki, 0, {
      url: `mqtt://127.0.0.1:${await freePort()}`,
      intervalMs: 100,
      meters: [{ id: "m", driver: "synthetic", readings: 25 }],
    });
    const agent = spawnGridlet(["agent", "--config", config], {
      NOTIFY_SOCKET: sock,
      // 0.6 s: pings every 0.5 s (the agent's shortest period) while a reading is younger than 0.6 s
      WATCHDOG_USEC: "600000",
    });
    try {
      await waitFor("READY=1", () => got.includes("READY=1"));
      await waitFor("watchdog pings", () => count(got, "WATCHDOG=1") >= 2);
      await agent.waitForOutput(/exhausted/, 30_000);
      // Give the last pings of the reading period (0.6 s watchdog, pings every 0.5 s) time to land.
      await new Promise((r) => setTimeout(r, 1200));
      const settled = count(got, "WATCHDOG=1");
      // three ping periods without a reading: no ping
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(count(got, "WATCHDOG=1"), settled, "no pings once readings stopped flowing");
    } finally {
      await agent.stop();
      listener.kill();
    }
  });
});
