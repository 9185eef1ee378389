import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../protocol/log.js";
import { meterConfigSchema } from "./config.js";
import { isMeterError } from "./errors.js";
import { createMeterDriver, createMeterDrivers } from "./factory.js";
import { systemClock } from "./transport/clock.js";
import { type PortOpener, SerialLine } from "./transport/serial-line.js";

test("meters config: defaults filled, duplicate ids and clashing line settings rejected by path", () => {
  const ok = meterConfigSchema.parse([
    { id: "a", driver: "modbus-rtu", path: "/dev/ttyUSB0", unitId: 1, profile: "sdm630" },
  ]);
  assert.deepEqual(
    [ok[0].driver === "modbus-rtu" && ok[0].retries, ok[0].driver === "modbus-rtu" && ok[0].delayMs],
    [2, 0],
  );
  const dup = meterConfigSchema.safeParse([
    { id: "a", driver: "replay", file: "x.csv" },
    { id: "a", driver: "replay", file: "y.csv" },
  ]);
  assert.equal(dup.success, false);
  assert.match(dup.error!.issues[0].message, /duplicate meter id/);
  const clash = meterConfigSchema.safeParse([
    { id: "a", driver: "modbus-rtu", path: "/dev/ttyUSB0", unitId: 1, profile: "sdm630", baud: 9600 },
    { id: "b", driver: "modbus-rtu", path: "/dev/ttyUSB0", unitId: 2, profile: "em24", baud: 19200 },
  ]);
  assert.equal(clash.success, false);
  assert.deepEqual(clash.error!.issues[0].path, [1, "baud"]);
});

test("createMeterDriver names the bad field, the unknown profile, the unreadable log", () => {
  assert.throws(
    () => createMeterDriver({ id: "a", driver: "modbus-rtu", path: "/x", unitId: 300, profile: "sdm630" }),
    (e: unknown) => isMeterError(e, "CONFIG_INVALID") && /unitId/.test(e.message),
  );
  assert.throws(
    () => createMeterDriver({ id: "a", driver: "modbus-tcp", host: "127.0.0.1", profile: "sdm999" }),
    (e: unknown) => isMeterError(e, "PROFILE_UNKNOWN") && /sdm630/.test(e.message),
  );
  assert.throws(
    () => createMeterDriver({ id: "a", driver: "replay", file: "/nonexistent/log.csv" }),
    (e: unknown) => isMeterError(e, "CONFIG_INVALID") && /replay file/.test(e.message),
  );
});

test("two meters on one serial path share one bus: the port is opened once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bus-"));
  const dev = join(dir, "ttyFAKE");
  writeFileSync(dev, "");
  let opens = 0;
  const opener: PortOpener = async () => {
    opens++;
    return { write: async () => undefined, close: async () => undefined };
  };
  const entry = { driver: "modbus-rtu", path: dev, profile: "sdm630", timeoutMs: 20, retries: 0 };
  const [a, b] = createMeterDrivers(
    [
      { ...entry, id: "a", unitId: 1 },
      { ...entry, id: "b", unitId: 2 },
    ],
    { opener, log: silentLogger },
  );
  const results = await Promise.allSettled([a.read(), b.read()]);
  assert.ok(results.every((r) => r.status === "rejected" && isMeterError(r.reason, "TIMEOUT")));
  assert.equal(opens, 1);
  assert.equal(a.counters().timeouts + b.counters().timeouts, 2);
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the serial path is resolved again at every reopen (a by-id link moving to a new ttyUSB)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "byid-"));
  const [usb0, usb1, link] = ["ttyUSB0", "ttyUSB1", "usb-FTDI-if00-port0"].map((n) => join(dir, n));
  writeFileSync(usb0, "");
  writeFileSync(usb1, "");
  symlinkSync(usb0, link);
  const resolved: string[] = [];
  const opener: PortOpener = async (s) => {
    resolved.push(s.resolvedPath);
    return { write: async () => undefined, close: async () => undefined };
  };
  const line = new SerialLine(
    { path: link, baud: 9600 },
    { clock: systemClock, opener, backoffMinMs: 1, log: silentLogger },
  );
  await line.ensureOpen(systemClock.now() + 1000);
  await line.drop("unplugged");
  rmSync(link);
  symlinkSync(usb1, link);
  await line.ensureOpen(systemClock.now() + 1000);
  assert.deepEqual(resolved, [usb0, usb1]);
  assert.equal(line.reopens, 1);
  rmSync(usb1);
  rmSync(link);
  await line.drop("unplugged again");
  await assert.rejects(line.ensureOpen(systemClock.now() + 50), (e: unknown) =>
    isMeterError(e, "PORT_CLOSED"),
  );
  await line.close();
  rmSync(dir, { recursive: true, force: true });
});
