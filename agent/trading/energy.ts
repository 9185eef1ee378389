import type { MeterReading } from "../meters/types.js";

/** Energy over one delivery interval from the agent's own cumulative meter readings. */
export interface IntervalEnergy {
  interval: number;
  importWh: number;
  exportWh: number;
  /** readings that fell inside the interval */
  readings: number;
}

/**
 * Counters are cumulative, so an interval's energy is the difference between the last reading at or
 * before its end and the last reading at or before its start (or its first reading, when the meter came
 * up during the interval). Null when there is no reading in or before the interval to start from.
 */
export function intervalEnergy(
  readings: readonly MeterReading[],
  interval: number,
  intervalMs: number,
): IntervalEnergy | null {
  const start = interval * intervalMs;
  const end = start + intervalMs;
  let before: MeterReading | null = null;
  let firstInside: MeterReading | null = null;
  let to: MeterReading | null = null;
  let inside = 0;
  for (const r of readings) {
    if (r.ts <= start && (!before || r.ts >= before.ts)) before = r;
    if (r.ts <= end && (!to || r.ts >= to.ts)) to = r;
    if (r.ts > start && r.ts <= end) {
      inside++;
      if (!firstInside || r.ts < firstInside.ts) firstInside = r;
    }
  }
  const from = before ?? firstInside;
  if (!from || !to || to.ts < from.ts) return null;
  return {
    interval,
    importWh: Math.max(0, to.importWh - from.importWh),
    exportWh: Math.max(0, to.exportWh - from.exportWh),
    readings: inside,
  };
}
