import type Database from "better-sqlite3";
import {
  coveredReadings,
  type EvidenceReading,
  epochStart,
  evidenceDifference,
  type MeterEvidence,
  type MeterReplaceBody,
  meterEvidence,
  meterReplaceBodySchema,
} from "../../protocol/evidence.js";
import type { MeterSummaryBody } from "../../protocol/messages/trading.js";
import type { MessageHandler } from "./ingest.js";
import type { Refusal } from "./store.js";

/**
 * The home aggregator's side of metered evidence (docs/PROTOCOL.md, "Metered evidence"): the meters'
 * register epochs (a replacement, signed by the agent, starts a new one; readings.ts checks registers
 * within an epoch), and meter summaries that must equal what the readings ingested here give
 * (SUMMARY_MISMATCH, a final refusal the agent learns from its receipt).
 */
/** meters whose replacement times are kept in memory (a gateway serves a few hundred) */
const REPLACEMENT_CACHE_ENTRIES = 16_384;

export class MeterEvidenceStore {
  private readonly q;
  private readonly replacementCache = new Map<string, number[]>();

  constructor(db: Database.Database) {
    // the readings table is the readings handler's (readings.ts), created before this
    db.exec(`
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

  /**
   * The times of a meter's replacements, kept in memory after the first read (a query per reading
   * otherwise); a replacement stored here drops the meter's entry, whether its transaction commits or
   * not, so the next read is fresh either way.
   */
  replacements(sender: string, meter: string): number[] {
    const key = `${sender}\u0000${meter}`;
    let reps = this.replacementCache.get(key);
    if (reps === undefined) {
      reps = this.q.replacements.all(sender, meter).map((r) => r.ts);
      if (this.replacementCache.size >= REPLACEMENT_CACHE_ENTRIES) this.replacementCache.clear();
      this.replacementCache.set(key, reps);
    }
    return reps;
  }

  /** The meter's register epoch that holds time `t`: [from, until) between its replacements. */
  epochOf(sender: string, meter: string, t: number): { from: number; until: number } {
    const reps = this.replacements(sender, meter);
    return {
      from: Math.max(epochStart(reps, t), Number.MIN_SAFE_INTEGER),
      until: Math.min(...reps.filter((r) => r > t), Number.MAX_SAFE_INTEGER),
    };
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
  checkSummary(sender: string, body: MeterSummaryBody, intervalMs: number): Refusal | undefined {
    const start = body.interval * intervalMs;
    const end = start + intervalMs;
    const claimed = new Map(body.meters.map((m) => [m.meter, m]));
    for (const { meter } of this.q.meters.all(sender, start - intervalMs, end))
      if (!claimed.has(meter) && this.actualEvidence(sender, meter, start, end, intervalMs) !== undefined)
        return {
          code: "SUMMARY_MISMATCH",
          reason: `interval ${body.interval}: meter ${meter} has readings in the interval but is not in the summary`,
        };
    for (const m of body.meters) {
      const why = evidenceDifference(m, this.actualEvidence(sender, m.meter, start, end, intervalMs));
      if (why !== undefined) return { code: "SUMMARY_MISMATCH", reason: `interval ${body.interval}: ${why}` };
    }
    return undefined;
  }

  /** The handler of `meter.replace`: from its `ts` on, the meter's registers start a new epoch. */
  replaceHandler(maxAgeMs: number): MessageHandler<MeterReplaceBody> {
    return {
      maxAgeMs,
      parse: (body) => meterReplaceBodySchema.parse(body),
      store: (_db, env, b, raw) => {
        this.replacementCache.delete(`${env.from}\u0000${b.meter}`);
        this.q.replace.run(env.from, b.meter, b.ts, env.seq, raw);
      },
    };
  }
}
