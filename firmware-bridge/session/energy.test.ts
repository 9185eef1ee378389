import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isBridgeError } from "../errors.js";
import { type ChannelState, PulseAccumulator, type PulseReport } from "./energy.js";

const rep = (count: number, uptimeMs: number, extra: Partial<PulseReport> = {}): PulseReport => ({
  count,
  uptimeMs,
  pulsesPerKwh: 1000,
  bootId: 1,
  lastPulseMs: uptimeMs,
  ...extra,
});

describe("pulse accumulator", () => {
  it("converts pulses to Wh in integers and carries the remainder", () => {
    const a = PulseAccumulator.startingAt(100);
    a.update(rep(0, 0, { pulsesPerKwh: 800 }));
    a.update(rep(1, 10, { pulsesPerKwh: 800 })); // 1.25 Wh
    assert.equal(a.wh, 101);
    a.update(rep(3, 20, { pulsesPerKwh: 800 })); // 3.75 Wh
    assert.equal(a.wh, 103);
    a.update(rep(4, 30, { pulsesPerKwh: 800 })); // 5 Wh exactly
    assert.equal(a.wh, 105);
    assert.equal(a.state()?.remainder, 0);
  });

  it("gives floor(total × 1000 / ppk) however the pulses are split across reports", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.nat(50_000), { maxLength: 40 }),
        (ppk, deltas) => {
          const a = new PulseAccumulator();
          let count = 0;
          let t = 0;
          a.update(rep(0, 0, { pulsesPerKwh: ppk }));
          for (const d of deltas) {
            count += d;
            t += 1000;
            a.update(rep(count % 2 ** 32, t, { pulsesPerKwh: ppk }));
          }
          assert.equal(a.wh, Math.floor((count * 1000) / ppk));
        },
      ),
    );
  });

  it("unwraps the 32-bit counter", () => {
    const a = new PulseAccumulator();
    a.update(rep(2 ** 32 - 10, 1000));
    const r = a.update(rep(5, 2000));
    assert.deepEqual(r, { outcome: "wrap", pulses: 15 });
    assert.equal(a.wh, 15);
  });

  it("treats a new boot id or a backwards uptime as a restart and never goes backwards", () => {
    const a = new PulseAccumulator();
    a.update(rep(0, 0));
    a.update(rep(500, 60_000));
    assert.equal(a.wh, 500);
    assert.deepEqual(a.update(rep(20, 1500, { bootId: 2 })), { outcome: "restart", pulses: 20 });
    assert.equal(a.wh, 520);
    // Same boot id (an MCU without a random source) but uptime went back: still a restart.
    assert.deepEqual(a.update(rep(3, 100, { bootId: 2 })), { outcome: "restart", pulses: 3 });
    assert.equal(a.wh, 523);
    assert.equal(a.restarts, 2);
  });

  it("never decreases under any sequence of reports", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            count: fc.nat(0xffffffff),
            uptimeMs: fc.nat(1e9),
            bootId: fc.nat(3),
            ppk: fc.integer({ min: 1, max: 10_000 }),
          }),
          {
            maxLength: 50,
          },
        ),
        (reports) => {
          const a = new PulseAccumulator();
          let last = 0;
          for (const r of reports) {
            a.update(
              rep(r.count, r.uptimeMs, { bootId: r.bootId, pulsesPerKwh: r.ppk, lastPulseMs: r.uptimeMs }),
            );
            assert.ok(a.wh >= last);
            assert.ok(Number.isSafeInteger(a.wh));
            last = a.wh;
          }
        },
      ),
    );
  });

  it("resumes from persisted state without double counting", () => {
    const a = new PulseAccumulator();
    a.update(rep(0, 0));
    a.update(rep(1234, 5000));
    const saved = a.state() as ChannelState;
    const b = new PulseAccumulator(saved);
    b.update(rep(1300, 6000));
    assert.equal(b.wh, 1300);
    assert.throws(
      () => new PulseAccumulator({ ...saved, remainder: 5000 }),
      (e) => isBridgeError(e, "CONFIG_INVALID"),
    );
    assert.throws(
      () => new PulseAccumulator({ ...saved, wh: -1 }),
      (e) => isBridgeError(e, "CONFIG_INVALID"),
    );
  });

  it("derives power from the firmware's pulse timestamps and lets it decay when pulses stop", () => {
    const a = new PulseAccumulator();
    // 1000 imp/kWh, one pulse every 360 ms = 10 kW.
    a.update(rep(10, 3700, { lastPulseMs: 3600 }));
    a.update(rep(20, 7300, { lastPulseMs: 7200 }));
    assert.equal(a.powerW(), 10_000);
    // No pulse for 36 s: at most one pulse in 36 s = 100 W.
    a.update(rep(20, 43_200, { lastPulseMs: 7200 }));
    assert.equal(a.powerW(), 100);
    assert.equal(new PulseAccumulator().powerW(), 0);
  });
});
