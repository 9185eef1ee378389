/**
 * Replays a recorded log as a meter. Log time runs `speed` times faster than the injected clock from the
 * moment the driver is created; each read returns the newest row at or before the current log time. With
 * `loop`, the log repeats with its counters carried forward, so energy keeps rising as a real meter's does.
 */
import type { LogRow } from "../codec/meter-log.js";
import { MeterError } from "../errors.js";
import type { Clock } from "../transport/clock.js";
import { zeroCounters } from "../transport/modbus-client.js";
import type { DriverCounters, MeterDriver, MeterReading } from "../types.js";

export interface ReplayOptions {
  id: string;
  rows: LogRow[];
  clock: Clock;
  speed: number;
  loop?: boolean;
  /** "log": readings carry the log's timestamps; "wall": log time is mapped onto the clock's wall time */
  timestamps?: "log" | "wall";
}

export class ReplayMeterDriver implements MeterDriver {
  readonly id: string;
  private readonly startMono: number;
  private readonly startWall: number;
  private readonly span: number;
  private readonly c = zeroCounters();

  constructor(private readonly o: ReplayOptions) {
    if (o.rows.length === 0) throw new MeterError("LOG_INVALID", "replay log has no rows");
    if (!(o.speed > 0))
      throw new MeterError("CONFIG_INVALID", `replay speed must be positive, got ${o.speed}`);
    this.id = o.id;
    this.startMono = o.clock.now();
    this.startWall = o.clock.wallNow();
    const r = o.rows;
    const step = r.length > 1 ? r[1].ts - r[0].ts : 60_000;
    this.span = r[r.length - 1].ts - r[0].ts + step;
  }

  /** The log time the replay has reached. */
  logTime(): number {
    return this.o.rows[0].ts + (this.o.clock.now() - this.startMono) * this.o.speed;
  }

  async read(): Promise<MeterReading> {
    const rows = this.o.rows;
    const first = rows[0];
    const last = rows[rows.length - 1];
    let t = this.logTime();
    let cycle = 0;
    if (t >= first.ts + this.span) {
      if (!this.o.loop) throw new MeterError("END_OF_LOG", `replay of ${this.id} reached the end of its log`);
      cycle = Math.floor((t - first.ts) / this.span);
      t -= cycle * this.span;
    }
    const row = rows[lastAtOrBefore(rows, t)];
    const ts = row.ts + cycle * this.span;
    this.c.reads++;
    return {
      meter: this.id,
      ts: this.o.timestamps === "wall" ? Math.round(this.startWall + (ts - first.ts) / this.o.speed) : ts,
      importWh: row.importWh + cycle * (last.importWh - first.importWh),
      exportWh: row.exportWh + cycle * (last.exportWh - first.exportWh),
      powerW: row.powerW,
    };
  }

  counters(): DriverCounters {
    return { ...this.c };
  }

  async close(): Promise<void> {}
}

function lastAtOrBefore(rows: LogRow[], t: number): number {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rows[mid].ts <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Yields the rows in order, each when its log time comes: at `speed` times real time on the injected
 * clock, scheduled from the start so that sleeps do not accumulate drift.
 */
export async function* replayRows(rows: LogRow[], speed: number, clock: Clock): AsyncGenerator<LogRow> {
  if (!(speed > 0)) throw new MeterError("CONFIG_INVALID", `replay speed must be positive, got ${speed}`);
  const start = clock.now();
  for (const r of rows) {
    await clock.sleepUntil(start + (r.ts - rows[0].ts) / speed);
    yield r;
  }
}
