import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import { getProfile } from "../agent/meters/profiles/load.js";
import { writeAgentConfig } from "../bench/harness/config.js";
import { makePki, type TestPki } from "../bench/harness/pki.js";
import { type Proc, spawnGridlet } from "../bench/harness/procs.js";
import { tempDir, waitFor } from "../bench/harness/tmp.js";
import { aggregatorReadings, reverifyAll } from "../bench/harness/verify-db.js";
import { PtyPair } from "../hardware/emulators/pty.js";
import { fixedState } from "../hardware/emulators/state.js";
import { StreamEmitter } from "../hardware/emulators/stream.js";
import { TcpMeterEmulator } from "../hardware/emulators/tcp.js";
import { itThroughBothBrokers } from "./helpers/brokers.js";

/**
 * One agent process with a Modbus TCP meter (ABB B23 emulated on loopback), a DSMR 5 P1 port and an SML
 * meter (each on a real pseudo-terminal); the values arrive, signature-checked, in the aggregator's
 * database through embedded Aedes and through Mosquitto.
 */
describe("Modbus TCP, DSMR P1 and SML → agent → broker → aggregator", { timeout: 120_000 }, () => {
  const tmp = tempDir();
  let pki: TestPki;
  let tcp: TcpMeterEmulator;
  let p1Pty: PtyPair;
  let smlPty: PtyPair;
  let p1: StreamEmitter;
  let sml: StreamEmitter;
  const tcpState = fixedState({ importWh: 2_000_500, exportWh: 10_250, powerW: 812 });
  const p1State = fixedState({ importWh: 7_654_321, exportWh: 123_456, powerW: -1830 });
  const smlState = fixedState({ importWh: 3_141_592, exportWh: 271_828, powerW: 640 });

  before(async () => {
    pki = makePki(tmp.dir, "agg-1", ["agent-1"]);
    tcp = await TcpMeterEmulator.start([{ unit: 1, profile: getProfile("abb-b23"), state: tcpState.get }]);
    mkdirSync(join(tmp.dir, "p1"));
    mkdirSync(join(tmp.dir, "sml"));
    p1Pty = await PtyPair.start(join(tmp.dir, "p1"));
    smlPty = await PtyPair.start(join(tmp.dir, "sml"));
    p1 = await StreamEmitter.start({
      kind: "p1",
      link: p1Pty.meter,
      baud: 115200,
      state: p1State.get,
      intervalMs: 200,
    });
    sml = await StreamEmitter.start({
      kind: "sml",
      link: smlPty.meter,
      baud: 9600,
      state: smlState.get,
      intervalMs: 200,
    });
  });
  after(async () => {
    await p1?.stop();
    await sml?.stop();
    await p1Pty?.kill();
    await smlPty?.kill();
    await tcp?.stop();
    tmp.cleanup();
  });

  async function run(dir: string, url: string, agg: Proc): Promise<void> {
    await agg.waitForOutput(/aggregator started/);
    const agent = spawnGridlet([
      "agent",
      "--config",
      writeAgentConfig(dir, pki, 0, {
        url,
        intervalMs: 400,
        meters: [
          {
            id: "tcp",
            driver: "modbus-tcp",
            host: "127.0.0.1",
            port: tcp.port,
            unitId: 1,
            profile: "abb-b23",
          },
          { id: "p1", driver: "dsmr", path: p1Pty.agent, dsmrVersion: 5, timeoutMs: 2000 },
          { id: "sml", driver: "sml", path: smlPty.agent, timeoutMs: 2000 },
        ],
      }),
    ]);
    try {
      const db = join(dir, "agg-1.sqlite");
      const expected: Record<string, { importWh: number; exportWh: number; powerW: number }> = {
        tcp: tcpState.get(),
        p1: p1State.get(),
        sml: smlState.get(),
      };
      const rows = await waitFor(
        "two readings of each meter at the aggregator",
        () => {
          const r = aggregatorReadings(db);
          return Object.keys(expected).every((m) => r.filter((x) => x.meter === m).length >= 2)
            ? r
            : undefined;
        },
        40_000,
      );
      assert.equal(reverifyAll(rows, pki), rows.length);
      for (const r of rows) {
        const body = JSON.parse(r.envelope).body;
        const want = expected[r.meter];
        assert.equal(body.importWh, want.importWh, `${r.meter} import`);
        assert.equal(body.exportWh, want.exportWh, `${r.meter} export`);
        assert.ok(
          Math.abs(body.powerMilliW - want.powerW * 1000) < 1000,
          `${r.meter} power ${body.powerMilliW} mW`,
        );
      }
    } finally {
      assert.equal(await agent.stop(), 0, agent.output());
    }
  }

  itThroughBothBrokers(tmp.dir, () => pki, run);
});
