/**
 * What every meter driver produces and how the agent drives it. Drivers are a pure codec plus a thin
 * transport; the agent's composition root owns scheduling (one read per interval per meter).
 */

/** Energy in watt-hours as integers (kWh × 1000), so that sums and differences are exact. */
export interface MeterReading {
  /** meter id from configuration */
  meter: string;
  /** when the values were read, ms since the Unix epoch (from the injected clock, or the replayed log) */
  ts: number;
  importWh: number;
  exportWh: number;
  /** active power in W, positive importing, negative exporting */
  powerW: number;
  voltageV?: number;
  currentA?: number;
  frequencyHz?: number;
}

/** Per-device health counters, reported in status and metrics. */
export interface DriverCounters {
  reads: number;
  crcErrors: number;
  timeouts: number;
  exceptions: number;
  reconnects: number;
  garbage: number;
  /** values the meter refused (Modbus exception 2 on an optional register) and that were reported as 0 */
  absent?: number;
}

export interface MeterDriver {
  readonly id: string;
  /** Reads one reading, or throws MeterError with a typed code. */
  read(): Promise<MeterReading>;
  counters(): DriverCounters;
  close(): Promise<void>;
}
