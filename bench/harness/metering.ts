import type { Envelope } from "../../protocol/envelope.js";
import { type EvidenceReading, evidenceTotals, intervalEvidence } from "../../protocol/evidence.js";
import type { MeterSummaryBody } from "../../protocol/messages/trading.js";

/**
 * A test agent's meters: signed readings with cumulative registers, and meter summaries built from them
 * by the protocol's evidence rule (protocol/evidence.ts), as the agent builds them. `sign` signs and
 * (for agents on a broker) sends one envelope.
 */
export class MeterLog {
  readonly readings: EvidenceReading[] = [];
  private readonly registers = new Map<string, { importWh: number; exportWh: number }>();

  constructor(private readonly sign: (type: string, body: unknown, signedAt: number) => Envelope) {}

  /** A reading at `ts` whose registers moved on by the given energy since the meter's last one. */
  reading(meter: string, ts: number, addImportWh: number, addExportWh: number, signedAt = ts): Envelope {
    const r = this.registers.get(meter) ?? { importWh: 1_000_000, exportWh: 500_000 };
    const next = { importWh: r.importWh + addImportWh, exportWh: r.exportWh + addExportWh };
    this.registers.set(meter, next);
    const env = this.sign("reading", { meter, ts, ...next, powerMilliW: 0 }, signedAt);
    this.readings.push({ seq: env.seq, ts, meter, ...next, envelope: JSON.parse(JSON.stringify(env)) });
    return env;
  }

  /**
   * Readings over one interval: at its start (unless the meter already read there), half-way and at its
   * end, with the given energy spread over the two halves. Signed at `signedAt` (default: each at its ts).
   */
  interval(
    interval: number,
    intervalMs: number,
    importWh: number,
    exportWh: number,
    o: { meter?: string; signedAt?: number } = {},
  ): Envelope[] {
    const meter = o.meter ?? "m1";
    const start = interval * intervalMs;
    const out: Envelope[] = [];
    if (!this.readings.some((r) => r.meter === meter && r.ts === start))
      out.push(this.reading(meter, start, 0, 0, o.signedAt ?? start));
    const hi = Math.floor(importWh / 2);
    const he = Math.floor(exportWh / 2);
    out.push(this.reading(meter, start + intervalMs / 2, hi, he, o.signedAt ?? start + intervalMs / 2));
    out.push(
      this.reading(meter, start + intervalMs, importWh - hi, exportWh - he, o.signedAt ?? start + intervalMs),
    );
    return out;
  }

  /** The summary of an interval from these readings, as the agent builds it. */
  summary(interval: number, intervalMs: number): MeterSummaryBody {
    const meters = intervalEvidence(this.readings, interval, intervalMs);
    return { interval, ...evidenceTotals(meters), meters };
  }
}

/**
 * A summary body consistent with itself (two readings of one meter with the given register
 * differences), for tests of the ledger that do not go through a home aggregator's evidence check.
 */
export function summaryBody(interval: number, importWh: number, exportWh: number): MeterSummaryBody {
  return {
    interval,
    importWh,
    exportWh,
    readings: 2,
    meters: [
      {
        meter: "m1",
        count: 2,
        root: "0".repeat(64),
        first: { seq: 2 * interval, ts: interval, importWh: 0, exportWh: 0 },
        last: { seq: 2 * interval + 1, ts: interval + 1, importWh, exportWh },
      },
    ],
  };
}
