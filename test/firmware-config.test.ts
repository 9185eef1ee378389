/**
 * An S0 meter built from its configuration entry, as the agent's driver factory would, against the C host
 * firmware on a pty pair: the meter constant from the configuration is pushed to the MCU at the handshake
 * and the Wh follow it.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { openS0Meter, type S0Meter } from "../firmware-bridge/config.js";
import { isBridgeError } from "../firmware-bridge/errors.js";
import {
  buildHostFirmware,
  type FirmwareProcess,
  type PtyPair,
  ptyPair,
  startFirmware,
  tempDir,
} from "../firmware-bridge/testing/harness.js";
import { silentLogger } from "../protocol/log.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("S0 meter from configuration", () => {
  const dir = tempDir("gridlet-fw-cfg-");
  let pty: PtyPair | undefined;
  let fw: FirmwareProcess | undefined;
  let meter: S0Meter | undefined;

  after(async () => {
    await meter?.driver.close();
    await fw?.stop();
    await pty?.stop();
  });

  it("refuses a bad entry naming the field", async () => {
    const bad = { id: "m", driver: "s0-bridge", port: "/dev/null", importChannel: 1, exportChannel: 1 };
    await assert.rejects(
      openS0Meter(bad),
      (e) => isBridgeError(e, "CONFIG_INVALID") && /exportChannel/.test(e.message),
    );
    await assert.rejects(
      openS0Meter({ id: "m", driver: "s0-bridge", port: "/dev/null", debounceMs: 100 }),
      (e) => isBridgeError(e, "CONFIG_INVALID") && /debounceMs/.test(e.message),
    );
  });

  it("pushes the configured meter constant and converts with it", async () => {
    pty = await ptyPair(dir);
    fw = await startFirmware(buildHostFirmware(dir), pty.a, [
      "--pulse-hz",
      "20",
      "--report-ms",
      "200",
      "--ppk",
      "1000",
    ]);
    meter = await openS0Meter(
      {
        id: "s0-cfg",
        driver: "s0-bridge",
        port: pty.b,
        pulsesPerKwh: 500,
        debounceMs: 5,
        startWh: { import: 10_000 },
      },
      { log: silentLogger, wallNow: () => 42 },
    );
    const { bridge, driver } = meter;
    await bridge.waitConnected();
    const ppk = async () => (await bridge.readPulses(0)).pulsesPerKwh;
    for (let i = 0; i < 100 && (await ppk()) !== 500; i++) await sleep(50);
    assert.equal(await ppk(), 500);
    const r1 = await driver.read();
    const c1 = (await bridge.readPulses(0)).count;
    await sleep(700);
    const c2 = (await bridge.readPulses(0)).count;
    const r2 = await driver.read();
    assert.ok(r1.importWh >= 10_000, "starts from the configured register value");
    // 500 pulses per kWh: two Wh per pulse, so the growth is even and at least twice the pulses seen.
    const grown = r2.importWh - r1.importWh;
    assert.equal(grown % 2, 0);
    assert.ok(grown >= 2 * (c2 - c1), `${grown} Wh for at least ${c2 - c1} pulses`);
    assert.equal(r2.ts, 42);
    assert.ok(driver.state().import?.pulsesPerKwh === 500);
  });
});
