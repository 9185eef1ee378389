import type Database from "better-sqlite3";

export type PendingKind = "tx" | "bill";

export interface PendingRow {
  key: string;
  agent: string;
  kind: PendingKind;
  raw: string;
  sentAt: number;
  attempts: number;
}

/**
 * Agent envelopes accepted (and receipted) by this aggregator but not yet seen in a committed block:
 * ledger transactions until their block commits, credit bills until the bank has paid them. Kept in the
 * aggregator's own SQLite file, written inside ingest's batch transaction, so a receipt is only sent for
 * what survives a crash; after a restart the rows are submitted again (a duplicate is a harmless REPLAY).
 */
export class LedgerOutbox {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS ledger_outbox (
      key TEXT PRIMARY KEY,
      agent TEXT NOT NULL,
      kind TEXT NOT NULL,
      raw TEXT NOT NULL,
      sent_at INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0
    )`);
    this.stmts = {
      add: db.prepare("INSERT OR IGNORE INTO ledger_outbox (key, agent, kind, raw) VALUES (?, ?, ?, ?)"),
      get: db.prepare("SELECT 1 FROM ledger_outbox WHERE key = ?"),
      del: db.prepare("DELETE FROM ledger_outbox WHERE key = ?"),
      due: db.prepare(
        "SELECT key, agent, kind, raw, sent_at AS sentAt, attempts FROM ledger_outbox WHERE sent_at <= ? ORDER BY rowid",
      ),
      sent: db.prepare("UPDATE ledger_outbox SET sent_at = ?, attempts = attempts + 1 WHERE key = ?"),
      count: db.prepare("SELECT COUNT(*) AS n FROM ledger_outbox"),
    };
  }

  /** Inside ingest's transaction. */
  add(key: string, agent: string, kind: PendingKind, raw: string): void {
    this.stmts.add.run(key, agent, kind, raw);
  }

  has(key: string): boolean {
    return this.stmts.get.get(key) !== undefined;
  }

  /** True when the row was there. */
  remove(key: string): boolean {
    return this.stmts.del.run(key).changes > 0;
  }

  /** Rows last sent at or before `before` (0 = never sent). */
  due(before: number): PendingRow[] {
    return this.stmts.due.all(before) as PendingRow[];
  }

  markSent(key: string, at: number): void {
    this.stmts.sent.run(at, key);
  }

  size(): number {
    return (this.stmts.count.get() as { n: number }).n;
  }
}
