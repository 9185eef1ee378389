import type Database from "better-sqlite3";
import {
  coveredReadings,
  type EvidenceReading,
  epochStart,
  evidenceDifference,
  type MeterEvidence,
  type MeterReplaceBody,
  MSG_METER_REPLACE,
  meterEvidence,
  meterReplaceBodySchema,
} from "../../protocol/evidence.js";
import type { MeterSummaryBody } from "../../protocol/messages/trading.js";
import type { MessageHandler } from "./ingest.js";
import { IngestRefusal } from "./store.js";

/**
 * The home aggregator's side of metered evidence (docs/PROTOCOL.md, "Metered evidence"): registers that
 * never run backwards within a meter's epoch (a replacement, signed by the agent, starts a new one), and
 * meter summaries that must equal what the readings ingested here give. Both refuse before writing, with
 * their own codes, so the agent learns it from its receipt.
 */
export class MeterEvidenceStore {
  private readonly q;

  constructor(db: Database.Database) {
    // the readings table is the readings handler's (readings.ts), created before this
    db.exec(`
      CREATE INDEX IF NOT EXISTS readings_by_meter ON readings (sender, meter, ts, seq);
      CREATE TABLE IF NOT EXISTS meter_replacements (sender TEXT NOT NULL, meter TEXT NOT NULL,
        ts INTEGER NOT NULL, seq INTEGER NOT NULL, envelope TEXT NOT NULL, PRIMARY KEY (sender, meter, ts));`);
    type Row = { seq: number; ts: number; importWh: number; exportWh: number };
    const cols = "seq, ts, import_wh AS importWh, export_wh AS exportWh";
    this.q = {
      before: db.prepare<[string, string, number, number, number, number], Row>(
        `SELECT ${cols} FROM readings WHERE sender = ? AND meter = ? AND ts >= ? AND (ts < ? OR (ts = ? AND seq < ?)) ORDER BY ts DESC, seq DESC LIMIT 1`,
      ),
      after: db.prepare<[string, string, number, number, number, number], Row>(
        `SELECT ${cols} FROM readings WHERE sender = ? AND meter = ? AND ts < ? AND (ts > ? OR (ts = ? AND seq > ?)) ORDER BY ts, seq LIMIT 1`,
      ),
      window: db.prepare<[string, string, number, number], Row & { meter: string; envelope: string }>(
        `SELECT meter, ${cols}, envelope FROM readings WHERE sender = ? AND meter = ? AND ts >= ? AND ts <= ? ORDER BY ts, seq`,
      ),
      meters: db.prepare<[string, number, number], { meter: string }>(
        "SELECT DISTINCT meter FROM readings WHERE sender = ? AND ts >= ? AND ts <= ?",
      ),
      replacements: db.prepare<[string, string], { ts: number }>(
        "SELECT ts FROM meter_replacements WHERE sender = ? AND meter = ?",
      ),
      replace: db.prepare(
        "INSERT OR IGNORE INTO meter_replacements (sender, meter, ts, seq, envelope) VALUES (?, ?, ?, ?, ?)",
      ),
    };
  }

  replacements(sender: string, meter: string): number[] {
    return this.q.replacements.all(sender, meter).map((r) => r.ts);
  }

  /**
   * Refuses (COUNTER_BACKWARDS) a reading whose registers are below the reading before it or above the
   * one after it, by reading time, within the meter's epoch.
   */
  checkReading(
    sender: string,
    seq: number,
    r: { meter: string; ts: number; importWh: number; exportWh: number },
  ): void {
    const reps = this.replacements(sender, r.meter);
    const from = Math.max(epochStart(reps, r.ts), Number.MIN_SAFE_INTEGER);
    const next = Math.min(...reps.filter((t) => t > r.ts), Number.MAX_SAFE_INTEGER);
    const prev = this.q.before.get(sender, r.meter, from, r.ts, r.ts, seq);
    const show = (x: { seq: number; ts: number; importWh: number; exportWh: number }) =>
      `import ${x.importWh} Wh, export ${x.exportWh} Wh at ts ${x.ts} (seq ${x.seq})`;
    const here = { seq, ...r };
    if (prev !== undefined && (r.importWh < prev.importWh || r.exportWh < prev.exportWh))
      throw new IngestRefusal(
        "COUNTER_BACKWARDS",
        `meter ${r.meter}: ${show(here)} is below the reading before it, ${show(prev)}; a new meter needs a signed ${MSG_METER_REPLACE}`,
      );
    const after = this.q.after.get(sender, r.meter, next, r.ts, r.ts, seq);
    if (after !== undefined && (r.importWh > after.importWh || r.exportWh > after.exportWh))
      throw new IngestRefusal(
        "COUNTER_BACKWARDS",
        `meter ${r.meter}: ${show(here)} is above the reading after it, ${show(after)}`,
      );
  }

  /** What the readings ingested here give as the evidence of one meter over an interval. */
  actualEvidence(
    sender: string,
    meter: string,
    start: number,
    end: number,
    lookbackMs: number,
  ): MeterEvidence | undefined {
    const rows: EvidenceReading[] = this.q.window
      .all(sender, meter, start - lookbackMs, end)
      .map(({ envelope, ...r }) => ({ ...r, envelope: JSON.parse(envelope) }));
    const covered = coveredReadings(rows, start, end, lookbackMs, this.replacements(sender, meter));
    return covered.length === 0 ? undefined : meterEvidence(meter, covered);
  }

  /**
   * Refuses (SUMMARY_MISMATCH) a summary that differs from the readings ingested here: a meter whose
   * edges, count or Merkle root differ, a meter claimed without readings, or a meter with readings in the
   * interval left out.
   */
  checkSummary(sender: string, body: MeterSummaryBody, intervalMs: number): void {
    const start = body.interval * intervalMs;
    const end = start + intervalMs;
    const claimed = new Map(body.meters.map((m) => [m.meter, m]));
    for (const { meter } of this.q.meters.all(sender, start - intervalMs, end))
      if (!claimed.has(meter) && this.actualEvidence(sender, meter, start, end, intervalMs) !== undefined)
        throw new IngestRefusal(
          "SUMMARY_MISMATCH",
          `interval ${body.interval}: meter ${meter} has readings in the interval but is not in the summary`,
        );
    for (const m of body.meters) {
      const why = evidenceDifference(m, this.actualEvidence(sender, m.meter, start, end, intervalMs));
      if (why !== undefined) throw new IngestRefusal("SUMMARY_MISMATCH", `interval ${body.interval}: ${why}`);
    }
  }

  /** The handler of `meter.replace`: from its `ts` on, the meter's registers start a new epoch. */
  replaceHandler(maxAgeMs: number): MessageHandler<MeterReplaceBody> {
    return {
      maxAgeMs,
      parse: (body) => meterReplaceBodySchema.parse(body),
      store: (_db, env, b, raw) => {
        this.q.replace.run(env.from, b.meter, b.ts, env.seq, raw);
      },
    };
  }
}
