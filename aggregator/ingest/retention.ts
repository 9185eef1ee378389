import type Database from "better-sqlite3";
import { MSG_READING } from "../../protocol/messages/readings.js";

/**
 * Retention of ingested readings (docs/OPERATIONS.md, "Retention"). The ledger lives in its own file and
 * is never pruned; this touches only the ingest store: readings whose reading time is older than the
 * cutoff, and the exactly-once records (`envelopes`) of readings received before it. A copy of a pruned
 * reading sent again is refused as STALE, because the configuration keeps readings at least as long as
 * `ingest.readingMaxAgeMs + ingest.maxFutureMs` (config/aggregator.ts).
 */
export class IngestRetention {
  private readonly stmts;

  /**
   * Made after the readings handler (ingest/readings.ts), which owns the readings table; `deleted` is
   * told when readings went, so that what the handler remembers of them goes too (its `forgetStored`).
   */
  constructor(
    private readonly db: Database.Database,
    private readonly deleted: () => void = () => undefined,
  ) {
    // The first start after an upgrade builds these once; afterwards each prune reads only old rows.
    db.exec(`
      CREATE INDEX IF NOT EXISTS readings_by_ts ON readings (ts);
      CREATE INDEX IF NOT EXISTS envelopes_by_received ON envelopes (received_at);
    `);
    this.stmts = {
      readings: db.prepare<[number, number]>(
        "DELETE FROM readings WHERE (sender, seq) IN (SELECT sender, seq FROM readings WHERE ts < ? LIMIT ?)",
      ),
      envelopes: db.prepare<[number, number]>(
        `DELETE FROM envelopes WHERE (sender, seq) IN
           (SELECT sender, seq FROM envelopes WHERE received_at < ? AND type = '${MSG_READING}' LIMIT ?)`,
      ),
    };
  }

  /** Deletes at most `maxRows` of each kind older than `cutoff` (ms), in one transaction. */
  prune(cutoff: number, maxRows: number): { readings: number; envelopes: number } {
    const removed = this.db.transaction(() => ({
      readings: this.stmts.readings.run(cutoff, maxRows).changes,
      envelopes: this.stmts.envelopes.run(cutoff, maxRows).changes,
    }))();
    if (removed.readings > 0) this.deleted();
    return removed;
  }
}
