/**
 * What an emulated meter measures, and how it changes: a constant power integrated over time, or a
 * recorded log replayed at some speed. Time comes from a Clock so tests can hold it still.
 */
import type { LogRow } from "../../agent/meters/codec/meter-log.js";
import type { Clock } from "../../agent/meters/transport/clock.js";

export interface MeterState {
  importWh: number;
  exportWh: number;
  /** positive importing, negative exporting */
  powerW: number;
  voltageV: number;
  currentA: number;
  frequencyHz: number;
}

export type StateSource = () => MeterState;

export function fixedState(s: Partial<MeterState> = {}): {
  get: StateSource;
  set(s: Partial<MeterState>): void;
} {
  let cur: MeterState = {
    importWh: 1_234_567,
    exportWh: 89_012,
    powerW: 1500,
    voltageV: 230.1,
    currentA: 6.52,
    frequencyHz: 50,
    ...s,
  };
  return {
    get: () => cur,
    set: (u) => {
      cur = { ...cur, ...u };
    },
  };
}

/** Integrates a constant power from a starting count, so counters rise as a real meter's do. */
export function constantPower(powerW: number, clock: Clock, start: Partial<MeterState> = {}): StateSource {
  const t0 = clock.now();
  const base = fixedState(start).get();
  return () => {
    const wh = (powerW * (clock.now() - t0)) / 3_600_000;
    return {
      ...base,
      powerW,
      currentA: Math.abs(powerW) / base.voltageV,
      importWh: base.importWh + (powerW > 0 ? Math.floor(wh) : 0),
      exportWh: base.exportWh + (powerW < 0 ? Math.floor(-wh) : 0),
    };
  };
}

/** Follows a recorded log at `speed` times real time, looping. */
export function fromLog(rows: LogRow[], speed: number, clock: Clock): StateSource {
  const t0 = clock.now();
  const span = rows[rows.length - 1].ts - rows[0].ts + (rows.length > 1 ? rows[1].ts - rows[0].ts : 60_000);
  return () => {
    const elapsed = ((clock.now() - t0) * speed) % span;
    const t = rows[0].ts + elapsed;
    let i = 0;
    while (i + 1 < rows.length && rows[i + 1].ts <= t) i++;
    const r = rows[i];
    return {
      importWh: r.importWh,
      exportWh: r.exportWh,
      powerW: r.powerW,
      voltageV: 230,
      currentA: Math.abs(r.powerW) / 230,
      frequencyHz: 50,
    };
  };
}
