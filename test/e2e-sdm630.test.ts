import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getProfile } from "../agent/meters/profiles/load.js";
import { writeAgentConfig, writeAggregatorConfig } from "../bench/harness/config.js";
import { freePort } from "../bench/harness/net.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { PtyPair } from "../hardware/emulators/pty.js";
import { RtuMeterEmulator } from "../hardware/emulators/rtu.js";
import { fixedState } from "../hardware/emulators/state.js";
import { itThroughBothBrokers } from "./helpers/brokers.js";

/**
 * The "done when": an agent process reads an emulated SDM630 over a real pseudo-terminal at
 * 9600 baud, and the values arrive signature-checked in the aggregator's database, through embedded
 * Aedes and through Mosquitto.
 */
describe("SDM630 over a pty at 9600 baud → agent → broker → aggregator", { timeout: 120_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let pty: PtyPair;
  let emu: RtuMeterEmulator;
  const state = fixedState({ importWh: 4_321_000, exportWh: 1_234_500, powerW: -2750.5 });

  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    pty = await PtyPair.start(tmp.dir);
    emu = await RtuMeterEmulator.start({
      link: pty.meter,
      line: { baud: 9600 },
      devices: [{ unit: 1, profile: getProfile("sdm630"), state: state.get }],
    });
  });
  after(async () => {
    await emu?.stop();
    await pty?.kill();
    tmp.cleanup();
  });

  async function run(dir: string, url: string, agg: Proc): Promise<void> {
    await agg.waitForOutput(/aggregator started/);
    const agent = spawnGridlet([
      "agent",
      "--config",
      writeAgentConfig(dir, pki, 0, {
        url,
        intervalMs: 250,
        meters: [
          {
            id: "sdm630",
            driver: "modbus-rtu",
            path: pty.agent,
            baud: 9600,
            unitId: 1,
            profile: "sdm630",
            timeoutMs: 500,
          },
        ],
      }),
    ]);
    try {
      const db = join(dir, "agg-1.sqlite");
      const rows = await waitFor("3 SDM630 readings at the aggregator", () => {
        const r = aggregatorReadings(db);
        return r.length >= 3 ? r : undefined;
      });
      assert.equal(reverifyAll(rows, pki), rows.length);
      for (const r of rows) {
        assert.equal(r.meter, "sdm630");
        assert.equal(r.importWh, 4_321_000);
        const body = JSON.parse(r.envelope).body;
        assert.equal(body.exportWh, 1_234_500);
        assert.ok(Math.abs(body.powerMilliW - -2_750_500) < 500, `power ${body.powerMilliW} mW`);
      }
    } finally {
      assert.equal(await agent.stop(), 0, agent.output());
    }
  }

  itThroughBothBrokers(tmp.dir, () => pki, run);

  it("the adapter vanishes and comes back: the same agent process resumes, nothing restarted", async () => {
    const dir = join(tmp.dir, "replug");
    mkdirSync(dir);
    const port = await freePort();
    const agg = spawnGridlet([
      "aggregator",
      "--config",
      writeAggregatorConfig(dir, pki, { embeddedPort: port }),
    ]);
    await agg.waitForOutput(/aggregator started/);
    const agent = spawnGridlet([
      "agent",
      "--config",
      writeAgentConfig(dir, pki, 0, {
        url: `mqtt://127.0.0.1:${port}`,
        intervalMs: 250,
        meters: [
          {
            id: "sdm630",
            driver: "modbus-rtu",
            path: pty.agent,
            baud: 9600,
            unitId: 1,
            profile: "sdm630",
            timeoutMs: 300,
          },
        ],
      }),
    ]);
    const db = join(dir, "agg-1.sqlite");
    try {
      await waitFor("readings before the unplug", () => aggregatorReadings(db).length >= 2);
      await emu.stop();
      await pty.kill();
      await agent.waitForOutput(/meter read failed/, 20_000);
      state.set({ importWh: 4_400_000 });
      await pty.restart();
      emu = await RtuMeterEmulator.start({
        link: pty.meter,
        line: { baud: 9600 },
        devices: [{ unit: 1, profile: getProfile("sdm630"), state: state.get }],
      });
      await waitFor(
        "readings after the re-plug",
        () => aggregatorReadings(db).some((r) => r.importWh === 4_400_000),
        40_000,
      );
      assert.equal(agent.child.exitCode, null, "the agent kept running");
      assert.match(agent.output(), /meter reading again/);
    } finally {
      await agent.stop();
      await agg.stop();
    }
  });
});
