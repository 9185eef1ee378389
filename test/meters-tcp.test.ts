/** The Modbus TCP driver against the TCP emulator on 127.0.0.1, with the same profiles as RTU. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isMeterError } from "../agent/meters/errors.js";
import { createMeterDriver } from "../agent/meters/factory.js";
import { getProfile } from "../agent/meters/profiles/load.js";
import type { MeterDriver } from "../agent/meters/types.js";
import { fixedState } from "../hardware/emulators/state.js";
import { TcpMeterEmulator } from "../hardware/emulators/tcp.js";
import { silentLogger } from "../protocol/log.js";

let emu: TcpMeterEmulator;
let drv: MeterDriver;
let iem: MeterDriver;
const state = fixedState({ importWh: 55_555_500, exportWh: 12_300, powerW: 3210.5, voltageV: 229.9 });

before(async () => {
  emu = await TcpMeterEmulator.start([
    { unit: 1, profile: getProfile("em340"), state: state.get },
    { unit: 3, profile: getProfile("iem3000"), state: state.get },
  ]);
  const common = { driver: "modbus-tcp", host: "127.0.0.1", port: emu.port, timeoutMs: 1000, retries: 2 };
  drv = createMeterDriver(
    { ...common, id: "em340", unitId: 1, profile: "em340" },
    { log: silentLogger, backoffMaxMs: 100 },
  );
  iem = createMeterDriver(
    { ...common, id: "iem", unitId: 3, profile: "iem3000" },
    { log: silentLogger, backoffMaxMs: 100 },
  );
});

after(async () => {
  await drv?.close();
  await iem?.close();
  await emu?.stop();
});

test("reads an EM340 (int32 low word first, 0.1 kWh) and an iEM3000 (int64 Wh, kW power) over TCP", async () => {
  const r = await drv.read();
  assert.equal(r.importWh, 55_555_500);
  assert.equal(r.exportWh, 12_300);
  assert.equal(r.powerW, 3210.5);
  assert.equal(r.voltageV, 229.9);
  const q = await iem.read();
  assert.equal(q.importWh, 55_555_500);
  assert.ok(Math.abs(q.powerW - 3210.5) < 0.5);
});

test("no answer: timeout counted, retried on a new connection, read succeeds", async () => {
  const before = drv.counters();
  emu.faults.inject({ kind: "silent" });
  assert.equal((await drv.read()).importWh, 55_555_500);
  const after = drv.counters();
  assert.ok(after.timeouts >= before.timeouts + 1);
  assert.ok(after.reconnects >= before.reconnects + 1);
});

test("the server closing the connection: reconnect and read", async () => {
  const before = drv.counters();
  emu.faults.inject({ kind: "close" });
  await drv.read();
  assert.ok(drv.counters().reconnects > before.reconnects);
});

test("garbage on the stream poisons the connection: counted, reconnected, read", async () => {
  const before = drv.counters();
  emu.faults.inject({ kind: "garbage" });
  assert.equal((await drv.read()).importWh, 55_555_500);
  assert.ok(drv.counters().garbage + drv.counters().timeouts > before.garbage + before.timeouts);
});

test("exception answers are typed and counted", async () => {
  emu.faults.inject({ kind: "exception", code: 6 });
  await assert.rejects(drv.read(), (e: unknown) => isMeterError(e, "MODBUS_EXCEPTION"));
  assert.ok(drv.counters().exceptions >= 1);
});

test("all connections dropped (gateway reboot): the next read reconnects", async () => {
  emu.dropConnections();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await drv.read()).importWh, 55_555_500);
});

test("an energy register near all-ones (ABB's 'not available') is rejected as VALUE_INVALID, not reported", async () => {
  const abbEmu = await TcpMeterEmulator.start([
    { unit: 1, profile: getProfile("abb-b23"), state: fixedState({ importWh: 1.8e20 }).get },
  ]);
  const abb = createMeterDriver(
    {
      id: "abb",
      driver: "modbus-tcp",
      host: "127.0.0.1",
      port: abbEmu.port,
      profile: "abb-b23",
      timeoutMs: 1000,
    },
    { log: silentLogger },
  );
  try {
    await assert.rejects(
      abb.read(),
      (e: unknown) => isMeterError(e, "VALUE_INVALID") && /importWh/.test(e.message),
    );
  } finally {
    await abb.close();
    await abbEmu.stop();
  }
});

test("EM24 behind a TCP gateway: refused export is absent (0, counted), import is the total counter", async () => {
  const gw = await TcpMeterEmulator.start([
    { unit: 5, profile: getProfile("em24"), state: state.get, refuse: ["exportWh"] },
  ]);
  const em24 = createMeterDriver(
    {
      id: "em24",
      driver: "modbus-tcp",
      host: "127.0.0.1",
      port: gw.port,
      unitId: 5,
      profile: "em24",
      timeoutMs: 1000,
    },
    { log: silentLogger },
  );
  try {
    const r = await em24.read();
    assert.equal(r.importWh, 55_555_500);
    assert.equal(r.exportWh, 0);
    assert.equal(em24.counters().absent, 1);
    assert.equal(em24.counters().exceptions, 1);
  } finally {
    await em24.close();
    await gw.stop();
  }
});
