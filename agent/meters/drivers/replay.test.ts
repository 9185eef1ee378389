import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatLogRow, LOG_HEADER, type LogRow, parseMeterLog } from "../codec/meter-log.js";
import { isMeterError } from "../errors.js";
import type { Clock } from "../transport/clock.js";
import { ReplayMeterDriver, replayRows } from "./replay.js";

/** A clock that moves only when told; sleeps advance it. */
function manualClock(wall = Date.parse("2030-01-01T00:00:00Z")) {
  let t = 0;
  const clock: Clock = {
    now: () => t,
    wallNow: () => wall + t,
    sleep: async (ms) => {
      t += Math.max(0, ms);
    },
    sleepUntil: async (u) => {
      t = Math.max(t, u);
    },
    setTimer: () => () => undefined,
  };
  return { clock, advance: (ms: number) => (t += ms) };
}

const T0 = Date.parse("2026-06-01T00:00:00Z");
const rows: LogRow[] = [0, 1, 2, 3].map((i) => ({
  ts: T0 + i * 60_000,
  importWh: 1000 + i * 10,
  exportWh: 5 * i,
  powerW: 600 - 100 * i,
}));

test("log rows format and parse back exactly (Wh integers through kWh text)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 10 ** 6 }),
          fc.nat(10 ** 6),
          fc.nat(10 ** 6),
          fc.integer({ min: -20000, max: 20000 }),
        ),
        {
          minLength: 1,
          maxLength: 30,
        },
      ),
      (steps) => {
        let ts = T0;
        let imp = 0;
        let exp = 0;
        const rs = steps.map(([dt, di, de, p]) => {
          ts += dt * 1000;
          imp += di;
          exp += de;
          return { ts, importWh: imp, exportWh: exp, powerW: p / 10 };
        });
        const text = `${LOG_HEADER}\n${rs.map(formatLogRow).join("\n")}\n`;
        assert.deepEqual(parseMeterLog(text).rows, rs);
      },
    ),
  );
});

test("log parser names the line and the problem", () => {
  const bad = (t: string, re: RegExp) =>
    assert.throws(
      () => parseMeterLog(t),
      (e: unknown) => isMeterError(e, "LOG_INVALID") && re.test(e.message),
    );
  bad("time,a,b,c\n", /line 1: expected header/);
  bad(`${LOG_HEADER}\n2026-06-01 00:00:00,1.000,0.000,5\n`, /line 2: timestamp/);
  bad(
    `${LOG_HEADER}\n2026-06-01T00:00:00Z,2.000,0.000,5\n2026-06-01T00:01:00Z,1.000,0.000,5\n`,
    /line 3: energy counters must not decrease/,
  );
  bad(
    `${LOG_HEADER}\n2026-06-01T00:01:00Z,1.000,0.000,5\n2026-06-01T00:00:00Z,1.000,0.000,5\n`,
    /line 3: timestamps must increase/,
  );
  bad(`${LOG_HEADER}\n2026-06-01T00:00:00Z,1.0000,0.000,5\n`, /line 2: energy/);
  bad(`${LOG_HEADER}\n`, /no rows/);
});

test("property: the log parser returns rows or LOG_INVALID for any text", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      for (const t of [s, `${LOG_HEADER}\n${s}`]) {
        try {
          parseMeterLog(t);
        } catch (e) {
          assert.ok(isMeterError(e, "LOG_INVALID"), String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("replay at speed 60: one real second is one log minute; wall timestamps follow the clock", async () => {
  const { clock, advance } = manualClock();
  const d = new ReplayMeterDriver({ id: "r", rows, clock, speed: 60, loop: false, timestamps: "log" });
  assert.equal((await d.read()).importWh, 1000);
  advance(999);
  assert.equal((await d.read()).importWh, 1000);
  advance(1);
  const r = await d.read();
  assert.deepEqual([r.ts, r.importWh, r.exportWh, r.powerW], [T0 + 60_000, 1010, 5, 500]);
  advance(3000);
  await assert.rejects(d.read(), (e: unknown) => isMeterError(e, "END_OF_LOG"));
  const w = new ReplayMeterDriver({ id: "w", rows, clock, speed: 60, timestamps: "wall" });
  advance(2000);
  assert.equal((await w.read()).ts, clock.wallNow());
});

test("looping replay carries the counters forward so they never decrease", async () => {
  const { clock, advance } = manualClock();
  const d = new ReplayMeterDriver({ id: "r", rows, clock, speed: 60, loop: true, timestamps: "log" });
  let prev = -1;
  for (let i = 0; i < 13; i++) {
    const r = await d.read();
    assert.ok(r.importWh >= prev);
    prev = r.importWh;
    advance(1000);
  }
  // 12 minutes in is the start of the fourth pass through a 4-minute log: import rose by 3 × 30 Wh
  assert.equal(prev, 1000 + 3 * 30);
});

test("replayRows yields each row at its scaled time", async () => {
  const { clock } = manualClock();
  const seen: number[] = [];
  for await (const r of replayRows(rows, 120, clock)) seen.push(r.importWh === 0 ? -1 : clock.now());
  assert.deepEqual(seen, [0, 500, 1000, 1500]);
});
