/**
 * The Modbus RTU driver against emulated meters across a real pseudo-terminal pair (socat) at 9600 baud:
 * values, two meters on one bus, every injected fault counted and recovered from, and the pty vanishing
 * and coming back at the same path.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isMeterError } from "../agent/meters/errors.js";
import { createMeterDrivers } from "../agent/meters/factory.js";
import { getProfile } from "../agent/meters/profiles/load.js";
import type { MeterDriver } from "../agent/meters/types.js";
import { PtyPair } from "../hardware/emulators/pty.js";
import { RtuMeterEmulator } from "../hardware/emulators/rtu.js";
import { fixedState } from "../hardware/emulators/state.js";
import { silentLogger } from "../protocol/log.js";

const dir = mkdtempSync(join(tmpdir(), "gridlet-rtu-"));
let pty: PtyPair;
let emu: RtuMeterEmulator;
let sdm: MeterDriver;
let em24: MeterDriver;
const sdmState = fixedState({
  importWh: 4_321_000,
  exportWh: 1_234_500,
  powerW: -2750.5,
  voltageV: 231.4,
  currentA: 11.9,
  frequencyHz: 49.98,
});
const em24State = fixedState({ importWh: 987_600, exportWh: 5_500, powerW: 420 });

async function startEmulator(): Promise<void> {
  emu = await RtuMeterEmulator.start({
    link: pty.meter,
    line: { baud: 9600 },
    devices: [
      { unit: 1, profile: getProfile("sdm630"), state: sdmState.get },
      { unit: 2, profile: getProfile("em24"), state: em24State.get, refuse: ["exportWh"] },
    ],
  });
}

before(async () => {
  pty = await PtyPair.start(dir);
  await startEmulator();
  [sdm, em24] = createMeterDrivers(
    [
      {
        id: "sdm",
        driver: "modbus-rtu",
        path: pty.agent,
        baud: 9600,
        unitId: 1,
        profile: "sdm630",
        timeoutMs: 1000,
        retries: 2,
      },
      {
        id: "em24",
        driver: "modbus-rtu",
        path: pty.agent,
        baud: 9600,
        unitId: 2,
        profile: "em24",
        timeoutMs: 1000,
        retries: 2,
      },
    ],
    { log: silentLogger, backoffMaxMs: 200 },
  );
});

after(async () => {
  await sdm?.close();
  await em24?.close();
  await emu?.stop();
  await pty?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test("reads an emulated SDM630 over a pty at 9600 baud", async () => {
  const r = await sdm.read();
  assert.equal(r.meter, "sdm");
  assert.equal(r.importWh, 4_321_000);
  assert.equal(r.exportWh, 1_234_500);
  assert.equal(r.powerW, -2750.5);
  assert.ok(Math.abs((r.voltageV ?? 0) - 231.4) < 0.01);
  assert.ok(Math.abs((r.frequencyHz ?? 0) - 49.98) < 0.001);
  assert.equal(sdm.counters().reads, 2, "SDM630 profile is two block reads");
});

test("EM24 on the same bus: export refused with exception 2 is reported as 0 and counted, not a failure", async () => {
  const [a, b] = await Promise.all([em24.read(), sdm.read()]);
  assert.equal(a.importWh, 987_600);
  assert.equal(a.exportWh, 0);
  assert.equal(a.powerW, 420);
  assert.equal(em24.counters().absent, 1);
  assert.equal(b.importWh, 4_321_000);
});

test("counters change as the meter's values do", async () => {
  sdmState.set({ importWh: 4_321_777 });
  assert.equal((await sdm.read()).importWh, 4_321_777);
});

test("a silent answer is a timeout, retried, and the read succeeds", async () => {
  const before = sdm.counters();
  emu.faults.inject({ kind: "silent" });
  const r = await sdm.read();
  assert.equal(r.importWh, 4_321_777);
  assert.ok(sdm.counters().timeouts >= before.timeouts + 1);
});

test("a bad CRC is counted and retried", async () => {
  const before = sdm.counters();
  emu.faults.inject({ kind: "bad-crc" });
  await sdm.read();
  assert.ok(sdm.counters().crcErrors >= before.crcErrors + 1);
});

test("garbage before the answer is counted and skipped", async () => {
  const before = sdm.counters();
  emu.faults.inject({ kind: "garbage", bytes: 9 });
  const r = await sdm.read();
  assert.equal(r.importWh, 4_321_777);
  assert.ok(sdm.counters().garbage > before.garbage);
});

test("an exception answer fails the read with MODBUS_EXCEPTION, counted; the next read works", async () => {
  const before = sdm.counters();
  emu.faults.inject({ kind: "exception", code: 4 });
  await assert.rejects(
    sdm.read(),
    (e: unknown) => isMeterError(e, "MODBUS_EXCEPTION") && e.context.exception === 4,
  );
  assert.ok(sdm.counters().exceptions >= before.exceptions + 1);
  assert.equal((await sdm.read()).importWh, 4_321_777);
});

test("the emulator closing its end for a while: reads fail with typed errors, then resume", async () => {
  emu.faults.inject({ kind: "close", reopenAfterMs: 300 });
  const before = sdm.counters();
  const r = await readUntilOk(sdm, 30);
  assert.equal(r.importWh, 4_321_777);
  assert.ok(sdm.counters().timeouts > before.timeouts);
});

test("the pty disappears (socat killed) and comes back at the same path: reading resumes", async () => {
  await emu.stop();
  await pty.kill();
  const failures: string[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      await sdm.read();
    } catch (e) {
      failures.push(isMeterError(e) ? e.code : "untyped");
    }
  }
  assert.equal(failures.length, 3);
  assert.ok(
    failures.every((c) => c !== "untyped"),
    failures.join(","),
  );
  await pty.restart();
  await startEmulator();
  const r = await readUntilOk(sdm, 40);
  assert.equal(r.importWh, 4_321_777);
  assert.ok(sdm.counters().reconnects >= 1, JSON.stringify(sdm.counters()));
});

async function readUntilOk(d: MeterDriver, attempts: number) {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await d.read();
    } catch (e) {
      assert.ok(isMeterError(e), `untyped error ${String(e)}`);
      last = e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw last;
}
