/**
 * The TypeScript bridge against the C reference firmware over a real pseudo-terminal pair (socat), with
 * the firmware as its own process: handshake, pulse counts growing at the simulated rate with contact
 * bounce, Wh and power through the MeterDriver, relay switching with read-back, refusals, a firmware
 * crash and restart, and line noise in both directions.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MeterReading } from "../agent/meters/types.js";
import { FirmwareBridge, type PulseCountMessage } from "../firmware-bridge/bridge.js";
import { Capability, FaultCode } from "../firmware-bridge/codec/messages.js";
import { S0MeterDriver } from "../firmware-bridge/driver.js";
import { isBridgeError } from "../firmware-bridge/errors.js";
import {
  buildHostFirmware,
  type FirmwareProcess,
  type PtyPair,
  ptyPair,
  startFirmware,
  tempDir,
} from "../firmware-bridge/testing/harness.js";
import { serialOpener } from "../firmware-bridge/transport/port.js";
import { reconnectingOpener } from "../firmware-bridge/transport/reconnect.js";
import { silentLogger } from "../protocol/log.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = tempDir("gridlet-fw-pty-");
const bin = buildHostFirmware(dir);
/** Generous: a loaded 2-core CI machine may deschedule either process for a while. */
const session = { responseTimeoutMs: 500, maxAttempts: 6, idleMs: 3000 };

async function eventually<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function openBridge(path: string): Promise<FirmwareBridge> {
  return FirmwareBridge.open({ open: serialOpener({ path }), session, log: silentLogger });
}

describe("firmware bridge over a pty pair with the C host firmware", () => {
  let pty: PtyPair;
  let fw: FirmwareProcess;
  let bridge: FirmwareBridge;
  const last = new Map<number, PulseCountMessage>();

  before(async () => {
    pty = await ptyPair(dir);
    fw = await startFirmware(bin, pty.a, [
      "--pulse-hz",
      "20",
      "--pulse-hz2",
      "5",
      "--bounce",
      "--report-ms",
      "200",
      "--device-id",
      "77",
    ]);
    bridge = await openBridge(pty.b);
    bridge.on({ pulse: (m) => last.set(m.channel, m) });
  });

  after(async () => {
    await bridge?.close();
    await fw?.stop();
    await pty?.stop();
  });

  it("handshakes and learns the device", async () => {
    const hello = await bridge.waitConnected();
    assert.equal(hello.deviceId, 77);
    assert.equal(hello.bootId, fw.bootId);
    assert.equal(hello.caps, Capability.S0 | Capability.RELAY | Capability.RELAY_FEEDBACK);
    assert.equal(hello.s0Channels, 2);
  });

  it("reads pulse counts that match the simulated rate despite contact bounce", async () => {
    const a = await bridge.readPulses(0);
    await sleep(600);
    const b = await bridge.readPulses(0);
    const c = await bridge.readPulses(1);
    assert.ok(b.count > a.count, `count grew from ${a.count} to ${b.count}`);
    // Pulse k rises at k × 50 ms of the firmware's uptime; bounce edges must not add to the count.
    for (const [m, hz] of [
      [a, 20],
      [b, 20],
      [c, 5],
    ] as const) {
      const ideal = Math.floor((m.uptimeMs * hz) / 1000);
      assert.ok(
        Math.abs(m.count - ideal) <= 1,
        `channel ${m.channel}: ${m.count} pulses at ${m.uptimeMs} ms, ideal ${ideal}`,
      );
    }
    assert.equal(b.bootId, fw.bootId);
  });

  it("serves energy in Wh and power from the pulse rate as a MeterDriver", async () => {
    const driver = new S0MeterDriver(bridge, {
      id: "s0-1",
      importChannel: 0,
      exportChannel: 1,
      wallNow: () => 1_700_000_000_000,
    });
    const r1 = await driver.read();
    const c1 = last.get(0)?.count ?? 0;
    await sleep(800);
    const r2 = await driver.read();
    const c2 = last.get(0)?.count ?? 0;
    assert.equal(r2.meter, "s0-1");
    assert.equal(r2.ts, 1_700_000_000_000);
    // 1000 pulses per kWh: one Wh per pulse.
    assert.equal(r2.importWh - r1.importWh, c2 - c1);
    assert.ok(r2.importWh > r1.importWh && r2.exportWh > r1.exportWh);
    // 20 pulses/s import (72 kW) minus 5 pulses/s export (18 kW).
    assert.ok(Math.abs(r2.powerW - 54_000) <= 1_000, `power ${r2.powerW} W`);
    assert.equal(driver.counters().reads, 2);
    await driver.close();
  });

  it("switches the relay and sees the state confirmed by the feedback contact", async () => {
    const on = await bridge.setRelay(0, true);
    assert.deepEqual(on, { kind: "relayState", channel: 0, on: true, feedback: true });
    assert.equal((await bridge.relayState(0)).on, true);
    const off = await bridge.setRelay(0, false);
    assert.equal(off.on, false);
    // The firmware's own log of its output pin, read from its stderr pipe, which may lag a little.
    await eventually("the firmware to log both switchings", () =>
      /relay 0 on[\s\S]*relay 0 off/.test(fw.stderr()) ? true : undefined,
    );
  });

  it("gets typed refusals for a bad channel and a bad meter constant, and applies a good one", async () => {
    await assert.rejects(
      bridge.readPulses(5),
      (e) => isBridgeError(e, "NACK") && e.context.nack === "BAD_CHANNEL",
    );
    await assert.rejects(bridge.setRelay(3, true), (e) => isBridgeError(e, "NACK"));
    await assert.rejects(
      bridge.configurePulses(0, 0, 5),
      (e) => isBridgeError(e, "NACK") && e.context.nack === "BAD_VALUE",
    );
    await bridge.configurePulses(1, 2000, 5);
    assert.equal((await bridge.readPulses(1)).pulsesPerKwh, 2000);
  });

  it("survives garbage written to the firmware and answers the next request", async () => {
    const junk = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    await bridge.writeRaw(junk);
    await bridge.writeRaw(Uint8Array.of(0x00, 0x05, 0x01, 0x02, 0x00));
    const p = await bridge.readPulses(0);
    assert.equal(p.channel, 0);
    const fault = await eventually("an RX_ERRORS fault", () => (faults.length > 0 ? faults[0] : undefined));
    assert.ok(fault.detail >= 1);
  });
  const faults: { detail: number }[] = [];
  before(() => {
    bridge.on({ fault: (f) => (f.code === 3 ? faults.push(f) : undefined) });
  });
});

describe("firmware restart and line noise", () => {
  let pty: PtyPair;
  let fw: FirmwareProcess | undefined;
  let bridge: FirmwareBridge;

  before(async () => {
    pty = await ptyPair(dir);
  });
  after(async () => {
    await bridge?.close();
    await fw?.stop();
    await pty?.stop();
  });

  it("detects a crashed and restarted firmware and keeps the energy total growing", async () => {
    fw = await startFirmware(bin, pty.a, ["--pulse-hz", "25", "--report-ms", "200", "--boot-id", "1111"]);
    bridge = await openBridge(pty.b);
    await bridge.waitConnected();
    const restarts: number[] = [];
    bridge.on({ restarted: (h, prev) => restarts.push(prev, h.bootId) });
    const driver = new S0MeterDriver(bridge, { id: "s0-r", importChannel: 0, wallNow: Date.now });
    const readings: MeterReading[] = [await driver.read()];
    await sleep(1000);
    readings.push(await driver.read());
    const before = readings[1].importWh;
    assert.ok(before > 0);

    fw.proc.kill("SIGKILL");
    await new Promise((r) => fw?.proc.once("exit", r));
    fw = await startFirmware(bin, pty.a, ["--pulse-hz", "25", "--report-ms", "200", "--boot-id", "2222"]);
    await eventually("restart event", () => (restarts.length > 0 ? true : undefined));
    assert.deepEqual(restarts, [1111, 2222]);
    readings.push(await driver.read());
    await sleep(800);
    readings.push(await driver.read());
    for (let i = 1; i < readings.length; i++) {
      assert.ok(readings[i].importWh >= readings[i - 1].importWh, `reading ${i} did not go backwards`);
    }
    // The new boot's count starts from zero; it is added to, not subtracted from, the total.
    assert.ok(readings[3].importWh > before + 10, `${readings[3].importWh} after ${before}`);
    assert.ok(driver.counters().reconnects >= 1);
    assert.equal(driver.state().import?.bootId, 2222);
    await driver.close();
  });

  it("decodes through random noise the firmware writes between frames", async () => {
    await fw?.stop();
    fw = await startFirmware(bin, pty.a, [
      "--pulse-hz",
      "10",
      "--report-ms",
      "100",
      "--garbage-ms",
      "30",
      "--stuck-relay",
    ]);
    await eventually(
      "handshake with the noisy firmware",
      () => bridge.hello?.bootId === fw?.bootId || undefined,
    );
    const bad0 = bridge.counters.crcErrors + bridge.counters.badFrames;
    for (let i = 0; i < 5; i++) {
      const p = await bridge.readPulses(0);
      assert.equal(p.bootId, fw.bootId);
      await sleep(100);
    }
    const bad = bridge.counters.crcErrors + bridge.counters.badFrames - bad0;
    assert.ok(bad > 0, "noise was seen and refused");
    // The stuck contactor never closes: the bridge must not report the relay as on, and the firmware
    // raises a feedback fault of its own.
    const relayFaults: number[] = [];
    bridge.on({
      fault: (f) => (f.code === FaultCode.RELAY_FEEDBACK_MISMATCH ? relayFaults.push(f.channel) : undefined),
    });
    await assert.rejects(bridge.setRelay(0, true), (e) => isBridgeError(e, "RELAY_NOT_CONFIRMED"));
    await eventually("a relay feedback fault", () => (relayFaults.length > 0 ? relayFaults : undefined));
    assert.deepEqual(relayFaults.slice(0, 1), [0]);
  });
});

describe("serial device that vanishes and comes back", () => {
  const sub = join(dir, "replug");
  mkdirSync(sub, { recursive: true });
  let pty: PtyPair | undefined;
  let fw: FirmwareProcess | undefined;
  let bridge: FirmwareBridge | undefined;

  after(async () => {
    await bridge?.close();
    await fw?.stop();
    await pty?.stop();
  });

  it("reopens the port by path, handshakes again and carries the energy total on", async () => {
    pty = await ptyPair(sub);
    fw = await startFirmware(bin, pty.a, ["--pulse-hz", "25", "--report-ms", "200", "--boot-id", "31"]);
    const open = reconnectingOpener(serialOpener({ path: pty.b }), {
      minDelayMs: 100,
      maxDelayMs: 400,
      log: silentLogger,
    });
    bridge = await FirmwareBridge.open({ open, session, log: silentLogger });
    const connects: number[] = [];
    bridge.on({ connected: (h) => connects.push(h.bootId) });
    await bridge.waitConnected();
    const driver = new S0MeterDriver(bridge, { id: "s0-u", importChannel: 0, wallNow: Date.now });
    await driver.read();
    await sleep(600);
    const before = (await driver.read()).importWh;

    // Unplug: the firmware and the whole pseudo-terminal pair go away, then come back at the same path.
    await fw.stop();
    await pty.stop();
    await sleep(300);
    pty = await ptyPair(sub);
    fw = await startFirmware(bin, pty.a, ["--pulse-hz", "25", "--report-ms", "200", "--boot-id", "32"]);
    await eventually("a new handshake", () => (connects.includes(32) ? true : undefined), 20_000);
    const r1 = await driver.read();
    await sleep(600);
    const r2 = await driver.read();
    assert.ok(
      r1.importWh >= before && r2.importWh > r1.importWh,
      `${before} -> ${r1.importWh} -> ${r2.importWh}`,
    );
    assert.equal(bridge.hello?.bootId, 32);
    assert.ok(bridge.counters.disconnects >= 1);
    await driver.close();
  });
});
